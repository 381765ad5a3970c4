"""The one interface every algorithm implements, and the ranking helper they share.

An algorithm is fitted on ``UserItemData`` and then scores batches of users (``UserRows``) over
the whole catalogue; ranking, evaluation, artifacts and fold-in are written once against this.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recommender.matrix import UserItemData, UserRows, confidence


class Algorithm(ABC):
    """fit on a user x item matrix; score user rows; find similar items; export/import state."""

    name: ClassVar[str]
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(f"{self.name} has no parameter(s) {sorted(unknown)}; known: {sorted(self.defaults)}")
        self.params: dict[str, Any] = {**self.defaults, **params}
        self.data: UserItemData | None = None
        # Seconds of the named steps of the last fit (those an algorithm marks with ``stage``),
        # so that a training-time budget can say where the time goes.
        self.stage_seconds: dict[str, float] = {}

    def fit(self, data: UserItemData) -> Algorithm:
        self.data = data
        self.stage_seconds = {}
        self._fit(data)
        return self

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds[name] = self.stage_seconds.get(name, 0.0) + time.perf_counter() - started

    @abstractmethod
    def _fit(self, data: UserItemData) -> None: ...

    @abstractmethod
    def score(self, rows: UserRows) -> np.ndarray:
        """Dense scores (len(rows) x n_items), higher is better; every item is a candidate."""

    def similar_items(self, item: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Items most like ``item``: what the model recommends to someone who only looked at it."""
        data = self._fitted()
        one = sp.csr_matrix(([1.0], ([0], [item])), shape=(1, data.n_items), dtype=np.float32)
        empty = sp.csr_matrix((1, data.n_items), dtype=np.float32)
        # Views and visits of the one look are its confidence, as they have been since the ranker
        # first read them (an item row had none then): similar items stay what they were.
        seen = confidence(one)
        rows = UserRows(strength=one, purchases=empty, recency=empty, purchase_age=empty, last_units=empty,
                        gap_per_unit=empty, visits=seen, views=seen, carts=empty, index=np.array([-1]), folded=True)
        scores = self.score(rows)[0]
        scores[item] = -np.inf
        top = top_k(scores[None, :], k)[0]
        return top, scores[top]

    def state(self) -> dict[str, np.ndarray]:
        """Learned arrays to store in an artifact (the training data is stored beside them)."""
        return {}

    def load_state(self, data: UserItemData, state: dict[str, np.ndarray]) -> None:
        """Restore a fitted model from ``state()`` output and its training data."""
        self.data = data

    def _fitted(self) -> UserItemData:
        if self.data is None:
            raise RuntimeError(f"{self.name} is not fitted: call fit(data) first")
        return self.data


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best items per row, best first; ties go to the lower item index."""
    n_rows, n_items = scores.shape
    k = min(k, n_items)
    if k == 0:
        return np.empty((n_rows, 0), dtype=np.int64)
    if k < n_items:
        # Partitioned at k, so the (k+1)-th best score is in place and the k best items come before it:
        # a tie across the cut shows without another pass over every score.
        part = np.argpartition(-scores, k, axis=1)
        _lowest_indices_at_the_cut(scores, part, k)
        part = part[:, :k]
    else:
        part = np.broadcast_to(np.arange(n_items), (n_rows, n_items))
    picked = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -picked), axis=1)
    return np.take_along_axis(part, order, axis=1).astype(np.int64)


def _lowest_indices_at_the_cut(scores: np.ndarray, part: np.ndarray, k: int) -> None:
    """Where an item outside the top k ties with the k-th best score, argpartition keeps an
    arbitrary few of the tied items, which depends on k (a list of 37 cut from a deeper one could
    differ from a list of 37): keep the lowest indices instead, in place. ``part`` is partitioned at
    k: its first k items are the best and its (k+1)-th is the best of the rest, so only rows where
    that one scores as low as the worst of the first k are redone."""
    picked = np.take_along_axis(scores, part[:, :k], axis=1)
    kth = picked.min(axis=1)
    next_best = np.take_along_axis(scores, part[:, k:k + 1], axis=1)[:, 0]
    for row in np.flatnonzero(next_best == kth):
        better = part[row, :k][picked[row] > kth[row]]  # every item above the tie is among the first k
        tied = np.flatnonzero(scores[row] == kth[row])[: k - len(better)]
        part[row, :k] = np.concatenate((better, tied))


def row_max_normalise(scores: np.ndarray) -> np.ndarray:
    """Scale each row so that its best score is 1 (rows without a positive score are left as they are)."""
    peak = scores.max(axis=1, keepdims=True)
    return np.where(peak > 0, scores / np.where(peak > 0, peak, 1.0), scores).astype(np.float32)
