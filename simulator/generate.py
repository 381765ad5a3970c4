"""Event generation: turn the world model into raw.interactions rows, window by window.

One machinery serves both modes:

* ``generate_history`` walks a past window one UTC day at a time and yields one
  ``EventBatch`` per day (the events that *occurred* that day, with their ``loaded_at``, which
  for late arrivals lies hours or days later). Memory stays flat whatever the window length.
* ``generate_window`` advances a live simulation over a short window (seconds) and returns the
  events that *arrived* in it (``loaded_at`` inside the window), so nothing from the future is
  ever emitted; the rest waits in ``SimulationState.pending``.

Each window: sessions arrive as a Poisson process whose rate is the sum of the active users'
rates (activity x engagement decay) times seasonality (day of week, calendar peaks) times the
hour-of-day curve; each session's user is drawn in proportion to their rate, which is the same
as one Poisson count per user. Due consumable re-buys add their own sessions. The sessions'
events (``simulator.sessions``) go through delivery (``simulator.delivery``), then join the
pending rows, and the rows that belong to the window are emitted sorted by ``occurred_at``.

History windows use a generator seeded from (seed, window start), so the same params give the
same rows however the days are consumed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import numpy as np

from shopcore.ordering import stable_argsort
from shopcore.timeunits import US_PER_DAY, US_PER_HOUR, US_PER_SECOND
from simulator.batch import EVENT_TYPE_SPELLINGS, EventBatch, RowBlock
from simulator.delivery import deliver
from simulator.ids import uuid4_bytes
from simulator.seasonality import HOUR_FACTOR, day_factor, to_us, window_segments
from simulator.sessions import SessionRows, browse, rebuy, record_purchases
from simulator.state import SimulationState
from simulator.threads import one_blas_thread
from simulator.world import World

__all__ = [
    "EventBatch",
    "SimulationState",
    "expected_events_per_second",
    "generate_history",
    "generate_window",
    "new_state",
]

_EVENTS_STREAM = 1
_SIGNUP_VISIT_US = 10 * 60 * US_PER_SECOND  # a new user's first visit starts within 10 minutes
# Delivered rows per session, as a multiple of mean_views_per_session: intent sessions' extra
# views, carts, purchases, re-buy sessions and duplicates. Measured on the default shop; used
# only by the live rate estimate.
ROWS_PER_MEAN_VIEW = 1.195


def new_state(world: World) -> SimulationState:
    """A fresh state: nothing pending, nothing owned, no re-buys scheduled."""
    return SimulationState.new(world)


def _window_rng(seed: int, start_us: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_EVENTS_STREAM, start_us)))


def user_rates(
    world: World, signed_up_before_us: int, at_us: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of users signed up before ``signed_up_before_us`` (in the order of the world's
    signup index) and their sessions/day at ``at_us`` (before seasonality): activity decayed
    by account age; users already quiet are left out (``World.awake_rates``)."""
    return world.awake_rates(at_us, signed_up_before_us)


def _session_arrivals(
    world: World, start_us: int, end_us: int, rng: np.random.Generator, multiplier: float
) -> tuple[np.ndarray, np.ndarray]:
    """(user index, start instant) of the organic sessions starting in ``[start, end)``."""
    seg_start, seg_len, intensity = window_segments(start_us, end_us)
    active, rate = user_rates(world, end_us, (start_us + end_us) // 2)
    if len(active) == 0 or len(seg_start) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    cum_rate = np.cumsum(rate)
    cum_intensity = np.cumsum(intensity)
    n = int(rng.poisson(cum_rate[-1] * cum_intensity[-1] * multiplier))
    # Sorted uniforms: the search then walks the cumulative rates once instead of jumping
    # all over them (several times faster); the sessions' order carries no meaning, and their
    # instants below are drawn apart from their users.
    u = rng.random(n)
    u.sort()
    who = active[np.minimum(np.searchsorted(cum_rate, u * cum_rate[-1], side="right"), len(active) - 1)]
    seg = np.minimum(
        np.searchsorted(cum_intensity, rng.random(n) * cum_intensity[-1], side="right"),
        len(seg_start) - 1)
    start = seg_start[seg] + (rng.random(n) * seg_len[seg]).astype(np.int64)
    # Someone who signs up during the window comes back only after signing up, ...
    signup = world.users.signup_us[who]
    later = start >= signup
    who, start = who[later], start[later]
    # ... and every newcomer's first visit is the one they sign up in: the flow of new visitors.
    new = world.signed_up_between(start_us, end_us)
    first = np.minimum(world.users.signup_us[new] + (rng.random(len(new)) * _SIGNUP_VISIT_US).astype(np.int64),
                       end_us - 1)
    return np.concatenate((who, new)), np.concatenate((start, first))


def _deliver_rows(
    world: World, rows: SessionRows, rng: np.random.Generator, cap_us: int | None
) -> RowBlock:
    """Delivered rows (duplicates included) of generated session rows, by occurred_at."""
    d = deliver(rows.occurred_us, rows.event_type, world.params, rng, cap_us)
    n = len(rows.occurred_us)
    # Time order now (on integers, before copying UUIDs), so emitting merges sorted runs.
    occurred = rows.occurred_us[d.row]
    by_time = stable_argsort(occurred)
    r = d.row[by_time]
    # Event ids drawn in the delivered order; a duplicate (delivered rows n onwards) then
    # copies its original's id: no gather of every id.
    event_id = uuid4_bytes(rng, len(r))
    at = np.empty(len(r), dtype=np.int64)
    at[by_time] = np.arange(len(r))
    event_id[at[n:]] = event_id[at[d.row[n:]]]
    session_uuid = uuid4_bytes(rng, rows.n_sessions)
    # Row 0 is the all-zero id of the rows without an order.
    order_uuid = np.concatenate((np.zeros((1, 16), dtype=np.uint8), uuid4_bytes(rng, rows.n_orders)))
    order = rows.order[r]
    has_order = order >= 0
    return RowBlock(
        event_id=event_id,
        session_id=np.take(session_uuid, rows.session[r], axis=0),
        order_id=np.take(order_uuid, order + 1, axis=0),
        has_order=has_order,
        user=rows.user[r],
        product=rows.product[r],
        spelling=d.spelling[by_time].astype(np.int8),
        quantity=rows.quantity[r],
        occurred_us=occurred[by_time],
        loaded_us=d.loaded_us[by_time],
    )


def _merged_by_time(indices: np.ndarray, occurred: np.ndarray, n_first: int) -> np.ndarray:
    """``indices`` (ascending, into the rows of two blocks joined: ``n_first`` rows first) in
    the stable order of ``occurred``. Each block's rows come by occurred_at, so the few of the
    first block (the pending ones) are placed among the second's by a search, not a sort of
    them all; rows out of order (never made here) fall back to the sort."""
    split = int(np.searchsorted(indices, n_first))
    first, second = occurred[indices[:split]], occurred[indices[split:]]
    if not (_ascending(first) and _ascending(second)):
        return indices[stable_argsort(occurred[indices])]
    # A first-block row goes before the second block's rows of the same instant (stability).
    at = np.arange(split) + np.searchsorted(second, first, side="left")
    out = np.empty(len(indices), dtype=indices.dtype)
    rest = np.ones(len(indices), dtype=bool)
    rest[at] = False
    out[at] = indices[:split]
    out[rest] = indices[split:]
    return out


def _ascending(values: np.ndarray) -> bool:
    return bool((values[1:] >= values[:-1]).all())


def _prices(world: World, rows: RowBlock) -> np.ndarray:
    """Each row's unit price at its occurred_at. Prices change at midnight, so the rows of the
    middle row's day (rows come by occurred_at: the day of most of them) take one table
    look-up; only the others search the price history."""
    if len(rows) == 0:
        return np.empty(0, dtype=np.int64)
    day = rows.occurred_us // US_PER_DAY
    main = int(day[len(day) // 2])
    today = world.prices.price_at(np.arange(world.n_products), main * US_PER_DAY)
    out = today[rows.product]
    other = np.flatnonzero(day != main)
    out[other] = world.prices.price_at(rows.product[other], rows.occurred_us[other])
    return out


def _materialise(world: World, rows: RowBlock) -> EventBatch:
    """raw.interactions columns of compact rows: look up ids, prices and spellings."""
    return EventBatch(
        event_id=rows.event_id,
        session_id=rows.session_id,
        # Ids are 1..n in index order (``World``): no look-up in the tables.
        user_id=rows.user + 1,
        product_id=rows.product + 1,
        event_type=np.take(EVENT_TYPE_SPELLINGS, rows.spelling),
        quantity=rows.quantity,
        unit_price_cents=_prices(world, rows),
        order_id=rows.order_id,
        has_order=rows.has_order,
        recommendation_variant=np.full(len(rows), None, dtype=object),
        occurred_at=rows.occurred_us.view("datetime64[us]"),
        loaded_at=rows.loaded_us.view("datetime64[us]"),
    )


def _advance(
    world: World,
    state: SimulationState,
    start_us: int,
    end_us: int,
    rng: np.random.Generator,
    *,
    multiplier: float,
    cap_us: int | None,
    emit_by_arrival: bool,
) -> EventBatch:
    """Simulate ``[start, end)``: new sessions, due re-buys, delivery, then emit."""
    if end_us <= start_us:
        raise ValueError("the window end must be after its start")
    if state.clock_us is not None and start_us < state.clock_us:
        raise ValueError(
            "this window starts before the end of the previous one "
            f"({start_us} < {state.clock_us} microseconds since the epoch); continue from "
            "the previous end or start from a new SimulationState"
        )
    if state.n_products != world.n_products:
        raise ValueError("the state belongs to a world with a different catalogue")
    state.sync_users(world.n_users)
    with one_blas_thread():
        who, start = _session_arrivals(world, start_us, end_us, rng, multiplier)
        organic = browse(world, state, who, start, rng)
        due, user, product, qty = state.pop_rebuys(end_us)
        rows = SessionRows.stack([organic, rebuy(world, due, user, product, qty, rng)])
        record_purchases(world, state, rows, rng)
        fresh = _deliver_rows(world, rows, rng, cap_us)

        # Pending rows (older) first, then fresh ones, indexed as if concatenated (only the
        # rows taken are copied); both parts are sorted by occurred_at.
        pending = state.pending
        occurred = np.concatenate((pending.occurred_us, fresh.occurred_us))
        key = np.concatenate((pending.loaded_us, fresh.loaded_us)) if emit_by_arrival else occurred
        ready = key < end_us
        ready_idx = np.flatnonzero(ready)
        state.pending = RowBlock.take_joined(pending, fresh, np.flatnonzero(~ready))
        state.clock_us = end_us
        # Merge the two sorted runs (a stable order: identical on every machine).
        ready_idx = _merged_by_time(ready_idx, occurred, len(pending))
        return _materialise(world, RowBlock.take_joined(pending, fresh, ready_idx))


def generate_history(
    world: World,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    state: SimulationState | None = None,
    max_loaded_at: datetime | None = None,
) -> Iterator[EventBatch]:
    """Yield one batch per simulated UTC day of ``[start, end)`` (default: the params window).

    The first and last batches cover partial days when ``start``/``end`` are not midnights.
    Pass a ``state`` (``new_state(world)``) to keep what carries over afterwards (for a later
    ``append`` window or the live stream). ``loaded_at`` never exceeds ``end + max_lateness``
    nor ``max_loaded_at`` (pass the real now when ``end`` is now).
    """
    params = world.params
    start_us = to_us(start if start is not None else params.start)
    end_us = to_us(end if end is not None else params.end)
    if end_us <= start_us:
        raise ValueError("end must be after start")
    state = state if state is not None else new_state(world)
    cap_us = end_us + int(params.max_lateness.total_seconds() * US_PER_SECOND)
    if max_loaded_at is not None:
        if to_us(max_loaded_at) < end_us:
            raise ValueError("max_loaded_at (the real now) must not be before end")
        cap_us = min(cap_us, to_us(max_loaded_at))
    t = start_us
    while t < end_us:
        nxt = min((t // US_PER_DAY + 1) * US_PER_DAY, end_us)
        yield _advance(world, state, t, nxt, _window_rng(params.seed, t),
                       multiplier=1.0, cap_us=cap_us, emit_by_arrival=False)
        t = nxt


def generate_window(
    world: World,
    state: SimulationState,
    start: datetime,
    end: datetime,
    *,
    rng: np.random.Generator,
    rate_multiplier: float = 1.0,
    max_loaded_at: datetime | None = None,
) -> EventBatch:
    """Advance a live simulation over ``[start, end)`` and return the rows that arrived in it.

    ``rate_multiplier`` scales organic session arrivals (re-buys come when they are due).
    Rows whose ``loaded_at`` is at or after ``end`` stay in ``state.pending`` for later windows.
    """
    if not np.isfinite(rate_multiplier) or rate_multiplier < 0:
        raise ValueError(f"rate_multiplier must be a finite number >= 0, got {rate_multiplier!r}")
    cap_us = to_us(max_loaded_at) if max_loaded_at is not None else None
    return _advance(world, state, to_us(start), to_us(end), rng,
                    multiplier=rate_multiplier, cap_us=cap_us, emit_by_arrival=True)


def expected_events_per_second(world: World, at: datetime) -> float:
    """Expected raw.interactions rows per second at ``at`` with ``rate_multiplier=1``.

    An estimate (sessions/second x events per session); use it to pick a multiplier that
    hits a target rate.
    """
    at_us = to_us(at)
    _, rate = user_rates(world, at_us, at_us)
    hour = (at_us // US_PER_HOUR) % 24
    sessions_per_day = rate.sum() * day_factor(at_us // US_PER_DAY) * HOUR_FACTOR[hour]
    # Newcomers' first visits: the signups of the surrounding day, spread evenly over it.
    signups = world.users.signup_us
    sessions_per_day += np.count_nonzero(np.abs(signups - at_us) < US_PER_DAY // 2)
    events_per_session = world.params.mean_views_per_session * ROWS_PER_MEAN_VIEW
    return float(sessions_per_day * events_per_session / 86_400)
