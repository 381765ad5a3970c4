"""How sure an evaluation is: paired bootstrap intervals over the test users.

Every algorithm is scored on the same users, so their per-user NDCGs are paired: resampling users
(with replacement) and taking each algorithm's mean on the same resample gives intervals for each
mean and, more to the point, for each difference between two algorithms, which is much narrower
than the two intervals side by side would suggest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RESAMPLES = 1000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{self.estimate:.4f} [{self.low:.4f}, {self.high:.4f}]"


class PairedBootstrap:
    """Resamples of one set of users, shared by every per-user array given to it."""

    def __init__(self, n_users: int, *, resamples: int = RESAMPLES, seed: int = 0, level: float = LEVEL) -> None:
        if n_users <= 0:
            raise ValueError("a bootstrap needs at least one user")
        self.n_users = n_users
        self.level = level
        self._picks = np.random.default_rng(seed).integers(0, n_users, size=(resamples, n_users), dtype=np.int32)

    def _interval(self, values: np.ndarray) -> Interval:
        values = np.asarray(values, dtype=np.float64)
        if len(values) != self.n_users:
            raise ValueError(f"expected {self.n_users} per-user values, got {len(values)}")
        means = np.concatenate([values[chunk].mean(axis=1) for chunk in np.array_split(self._picks, 10)])
        tail = (1.0 - self.level) / 2 * 100
        low, high = np.percentile(means, [tail, 100 - tail])
        return Interval(float(values.mean()), float(low), float(high))

    def mean(self, values: np.ndarray) -> Interval:
        """The interval of the mean of ``values``."""
        return self._interval(values)

    def difference(self, values: np.ndarray, other: np.ndarray) -> Interval:
        """The interval of mean(values) - mean(other), paired user by user."""
        return self._interval(np.asarray(values, dtype=np.float64) - np.asarray(other, dtype=np.float64))
