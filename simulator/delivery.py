"""How events reach the warehouse: a few seconds late, sometimes hours late, sometimes twice,
sometimes with sloppy event-type spelling. These are the defects staging must absorb.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopcore.timeunits import US_PER_HOUR, US_PER_SECOND
from simulator.batch import SLOPPY_SPELLINGS
from simulator.params import SimulationParams
from simulator.sampling import lognormal32


@dataclass
class Delivery:
    row: np.ndarray  # int64 index of the generated row each delivered row copies
    loaded_us: np.ndarray  # int64
    spelling: np.ndarray  # int64 index into EVENT_TYPE_SPELLINGS


def deliver(
    occurred_us: np.ndarray,
    event_type: np.ndarray,
    params: SimulationParams,
    rng: np.random.Generator,
    cap_us: int | None,
) -> Delivery:
    """Delivered rows of generated events: one per event, plus duplicates appended at the end.

    ``cap_us`` bounds ``loaded_at`` from above (the real "now" and/or window end + max
    lateness); ``loaded_at`` never precedes ``occurred_at``.
    """
    n = len(occurred_us)
    # Normal path: a couple of seconds through the pipeline.
    delay = np.clip(lognormal32(rng, np.log(2.5), 0.6, n), 0.2, 60.0) * US_PER_SECOND
    # Late arrivals: hours to days (a phone offline, a batch retried), at most max_lateness.
    late = rng.random(n) < params.late_rate
    max_late_h = params.max_lateness.total_seconds() / 3600
    late_h = np.clip(rng.lognormal(np.log(6.0), 1.0, int(late.sum())), 1.0, max_late_h)
    delay[late] = late_h * US_PER_HOUR
    loaded = occurred_us + delay.astype(np.int64)

    spelling = event_type.astype(np.int64)
    sloppy = np.flatnonzero(rng.random(n) < params.messy_type_rate)
    pick = rng.random(len(sloppy))
    for t, options in enumerate(SLOPPY_SPELLINGS):
        rows = sloppy[event_type[sloppy] == t]
        spelling[rows] = options[(pick[event_type[sloppy] == t] * len(options)).astype(np.int64)]

    # At-least-once delivery: the same event again, same content, a little later.
    dup = np.flatnonzero(rng.random(n) < params.duplicate_rate)
    dup_delay = np.clip(rng.lognormal(np.log(20.0), 1.2, len(dup)), 1.0, 7200.0) * US_PER_SECOND
    row = np.concatenate((np.arange(n, dtype=np.int64), dup))
    loaded = np.concatenate((loaded, loaded[dup] + dup_delay.astype(np.int64)))
    spelling = np.concatenate((spelling, spelling[dup]))

    if cap_us is not None:
        loaded = np.minimum(loaded, cap_us)
    loaded = np.maximum(loaded, occurred_us[row])
    return Delivery(row=row, loaded_us=loaded, spelling=spelling)
