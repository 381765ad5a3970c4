"""Injecting incidents: each generated batch of raw rows is transformed before it is loaded.

What each kind does to raw.interactions inside its window ``[starts_at, ends_at)``, and what
``truth.incidents.rows_affected`` counts:

* ``tracking-outage``: events that occur in the window (of one category, or all) are never
  recorded: the rows are dropped (counted).
* ``duplicate-storm``: every row that arrives (``loaded_at``) in the window is delivered ``copies``
  more times, seconds to minutes later, same event id and content (the copies are counted).
* ``late-burst``: events that occur in the window arrive together ``delay`` after it ends, spread
  over an hour: ``loaded_at`` moves, ``occurred_at`` stays (the delayed rows are counted).
* ``price-bug``: rows of one category (or all) that occur in the window carry their unit price
  times ``factor`` (the mispriced rows are counted).
* ``checkout-break``: purchases that occur in the window are lost except a ``keep`` share of the
  orders (whole orders kept or lost); views and carts go on (the lost purchase rows are counted).
* ``bot-traffic``: one existing user (signed up before the window) views random products all
  through the window, ``views`` rows in new sessions every half hour (the bot's rows are counted).

Which rows an incident touches is decided by a hash of the row's event id (order id for a
checkout) salted per incident, so the result does not depend on how the rows are cut into batches,
and the same seed gives the same rows. The kinds' window is on ``occurred_at`` except the storm's,
which is a delivery fault and so on ``loaded_at``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg

from shopcore.events import PURCHASE
from shopcore.timeunits import US_PER_HOUR, US_PER_SECOND
from simulator.batch import EventBatch
from simulator.ids import uuid4_bytes
from simulator.incidents import (
    BOT_TRAFFIC,
    CHECKOUT_BREAK,
    DEFAULT_CATEGORY,
    DEFAULT_COPIES,
    DEFAULT_DELAY,
    DEFAULT_FACTOR,
    DEFAULT_KEEP,
    DEFAULT_VIEWS,
    DUPLICATE_STORM,
    LATE_BURST,
    OPTIONS,
    PRICE_BUG,
    TRACKING_OUTAGE,
    Incident,
    IncidentError,
    footprint,
)
from simulator.world import World

_STREAM = 0x1C1D  # the seed stream of incident draws, apart from the events' own
_BOT_SESSION_US = 30 * 60 * US_PER_SECOND
_MAX_CENTS = 9_999_999_999  # numeric(10,2)
_BURST_SPREAD_US = US_PER_HOUR


@dataclass
class Injected:
    """An incident pinned to a window and a world, and what it has done so far."""

    incident: Incident
    starts_us: int
    ends_us: int
    category: str | None  # None: every category
    category_index: int | None
    salt: int
    detail: dict = field(default_factory=dict)
    rows_affected: int = 0
    incident_id: int | None = None  # its truth.incidents row, once written

    @property
    def kind(self) -> str:
        return self.incident.kind

    @property
    def starts_at(self) -> datetime:
        return _datetime(self.starts_us)

    @property
    def ends_at(self) -> datetime:
        return _datetime(self.ends_us)


def _datetime(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=int(us))


def _us(moment: datetime) -> int:
    return round(moment.timestamp() * 1e6)


def _column_us(values: np.ndarray) -> np.ndarray:
    """Microseconds since the epoch of a datetime64 column (a view when it is already in them)."""
    if values.dtype != np.dtype("datetime64[us]"):
        values = values.astype("datetime64[us]")
    return values.view(np.int64)


def _row_uniform(keys: np.ndarray, salt: int) -> np.ndarray:
    """A uniform [0, 1) per row from its 16-byte id and a salt (splitmix64 of the id's first bytes):
    the same row gets the same draw in whatever batch it comes."""
    x = np.ascontiguousarray(keys[:, :8]).view("<u8").ravel() ^ np.uint64(salt)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def resolve(
    incidents: Sequence[Incident],
    world: World,
    *,
    window_start: datetime,
    window_end: datetime | None,
) -> list[Injected]:
    """Pin each incident to the window (``window_end`` None: a live stream, open-ended) and the
    world: seeded start and category where none was given. Raises IncidentError, before anything
    is written, when an incident does not fit the window or names an unknown category or user."""
    out = []
    ws = _us(window_start)
    we = _us(window_end) if window_end is not None else None
    for index, incident in enumerate(incidents):
        rng = np.random.default_rng([world.params.seed, _STREAM, index, ws])
        length = int(incident.length.total_seconds() * US_PER_SECOND)
        tail = int((footprint(incident) - incident.length).total_seconds() * US_PER_SECOND)
        if isinstance(incident.start, datetime):
            start = _us(incident.start)
        elif isinstance(incident.start, timedelta):
            start = ws + int(incident.start.total_seconds() * US_PER_SECOND)
        elif we is not None:
            room = we - ws - length - tail
            if room < 0:
                raise IncidentError(f"{incident.spec}: the simulated window ({_datetime(ws):%Y-%m-%d %H:%M} to "
                                    f"{_datetime(we):%Y-%m-%d %H:%M} UTC) is too short for it")
            start = ws + int(rng.random() * room) // US_PER_SECOND * US_PER_SECOND
        else:
            start = ws
        _check_fits(incident, start, start + length + tail, ws, we)
        category, category_index = _category(incident, world, rng)
        injected = Injected(incident, start, start + length, category, category_index,
                            salt=int(rng.integers(1, 2**63)))
        injected.detail = _detail(injected)
        out.append(injected)
    return out


def _check_fits(incident: Incident, start: int, end: int, ws: int, we: int | None) -> None:
    window = (f"{_datetime(ws):%Y-%m-%d %H:%M} to {_datetime(we):%Y-%m-%d %H:%M} UTC" if we is not None
              else f"the stream, which starts {_datetime(ws):%Y-%m-%d %H:%M:%S} UTC")
    if we is not None and (start < ws or end > we):
        what = "and its late rows' arrival " if incident.kind == LATE_BURST else ""
        raise IncidentError(f"{incident.spec}: it runs {_datetime(start):%Y-%m-%d %H:%M} to "
                            f"{_datetime(end):%Y-%m-%d %H:%M} UTC {what}but the simulated window is {window}; "
                            "give a START inside it (e.g. an offset like +2d) or a shorter DURATION")
    if we is None and end <= ws:
        raise IncidentError(f"{incident.spec}: it is over before {window}; give a later START (e.g. +5m)")


def _category(incident: Incident, world: World, rng: np.random.Generator) -> tuple[str | None, int | None]:
    if incident.kind not in DEFAULT_CATEGORY:
        return None, None
    asked = (incident.category or DEFAULT_CATEGORY[incident.kind]).strip()
    names = [str(name) for name in world.category_names]
    if asked.lower() == "all":
        return None, None
    if asked.lower() == "random":
        index = int(rng.integers(len(names)))
        return names[index], index
    lowered = [name.lower() for name in names]
    if asked.lower() not in lowered:
        raise IncidentError(f"{incident.spec}: the shop has no category {asked!r}; its categories are "
                            f"{', '.join(names)} (or write random or all)")
    index = lowered.index(asked.lower())
    return names[index], index


def _detail(injected: Injected) -> dict:
    """The incident's parameters, as truth.incidents.detail records them: the spec as resolved (it
    injects this very incident again), the spec as asked, and the kind's parameters."""
    incident = injected.incident
    category = None
    if "category" in OPTIONS[incident.kind]:
        category = injected.category if injected.category is not None else "all"
    resolved = dataclasses.replace(incident, start=injected.starts_at, duration=incident.length, category=category)
    detail: dict = {"spec": resolved.spec, "asked": incident.spec}
    if incident.kind == TRACKING_OUTAGE:
        detail["scope"] = "category" if injected.category is not None else "all"
    elif incident.kind == DUPLICATE_STORM:
        detail["copies"] = incident.copies or DEFAULT_COPIES
    elif incident.kind == LATE_BURST:
        arrives = injected.ends_us + int((incident.delay or DEFAULT_DELAY).total_seconds() * US_PER_SECOND)
        detail["arrives_from"] = _datetime(arrives).isoformat()
        detail["arrives_until"] = _datetime(arrives + _BURST_SPREAD_US).isoformat()
    elif incident.kind == PRICE_BUG:
        detail["factor"] = incident.factor or DEFAULT_FACTOR
    elif incident.kind == CHECKOUT_BREAK:
        detail["keep"] = incident.keep if incident.keep is not None else DEFAULT_KEEP
    return detail


class Injector:
    """Applies resolved incidents to generated batches and records them in truth.incidents.

    History: ``inject_history`` wraps the day batches; nothing waits, ``loaded_at`` is capped at
    ``cap_us`` (the history's load time). Live: ``apply_live`` each tick; rows that now arrive
    later than the tick (a late burst, a storm's copies, a bot's next views) wait until they do.
    """

    def __init__(self, world: World, injected: list[Injected], *, cap_us: int | None = None) -> None:
        self.world = world
        self.injected = injected
        self.cap_us = cap_us
        ids = world.products.product_id
        self._category_of = np.full(int(ids.max(initial=0)) + 1, -1, dtype=np.int64)
        self._category_of[ids] = world.products.category
        self.pending = EventBatch.empty()
        self._pending_owner = np.empty(0, dtype=np.int64)  # index into injected; -1: none to count
        for index, inc in enumerate(injected):
            if inc.kind == BOT_TRAFFIC:
                rows = _bot_rows(world, inc)
                rows.loaded_at = _capped(self, _column_us(rows.loaded_at)).view("datetime64[us]")
                self._hold(rows, index)

    @classmethod
    def for_window(cls, world: World, incidents: Sequence[Incident], *, window_start: datetime,
                   window_end: datetime | None, cap: datetime | None = None) -> Injector | None:
        """An injector of ``incidents`` resolved for this window; None when there are none."""
        if not incidents:
            return None
        injected = resolve(incidents, world, window_start=window_start, window_end=window_end)
        return cls(world, injected, cap_us=_us(cap) if cap is not None else None)

    # -------------------------------------------------------------- the two modes

    def inject_history(self, batches: Iterable[EventBatch]) -> Iterator[EventBatch]:
        """The batches with every incident applied; the rows an incident adds go into the batch
        of their day (the last batch takes what is left)."""
        previous = None
        for batch in batches:
            batch = self.apply(batch)
            if len(batch):
                added = self._release(_column_us(batch.occurred_at).max(), by="occurred")
                if len(added):
                    batch = _sorted(EventBatch.concat([batch, added]))
            if previous is not None:
                yield previous
            previous = batch
        rest = self._release(None, by="occurred")
        if previous is not None or len(rest):
            yield _sorted(EventBatch.concat([previous or EventBatch.empty(), rest]))

    def apply_live(self, batches: Sequence[EventBatch], now: datetime) -> list[EventBatch]:
        """A live tick's batches with every incident applied; rows arriving after ``now`` wait."""
        now_us = _us(now)
        out = []
        for batch in batches:
            batch = self.apply(batch)
            later = _column_us(batch.loaded_at) >= now_us
            if later.any():
                self._hold(batch.take(later), -1)
                batch = batch.take(~later)
            out.append(batch)
        out.append(self._release(now_us, by="loaded"))
        return out

    def apply(self, batch: EventBatch) -> EventBatch:
        """One batch with every incident applied, in the order they were given."""
        for inc in self.injected:
            if len(batch) and _may_touch(inc, batch):
                batch = _TRANSFORMS[inc.kind](self, inc, batch)
        return batch

    # -------------------------------------------------------------- held rows

    def _hold(self, rows: EventBatch, owner: int) -> None:
        self.pending = EventBatch.concat([self.pending, rows])
        self._pending_owner = np.concatenate((self._pending_owner, np.full(len(rows), owner, dtype=np.int64)))

    def _release(self, until_us: int | None, *, by: str) -> EventBatch:
        """Held rows whose occurred_at (history) or loaded_at (live) is before ``until_us`` (None: all)."""
        if not len(self.pending):
            return EventBatch.empty()
        if until_us is None:
            ready = np.ones(len(self.pending), dtype=bool)
        else:
            key = self.pending.occurred_at if by == "occurred" else self.pending.loaded_at
            ready = _column_us(key) < until_us
        if not ready.any():
            return EventBatch.empty()
        owners = self._pending_owner[ready]
        for index, count in zip(*np.unique(owners[owners >= 0], return_counts=True)):
            self.injected[index].rows_affected += int(count)
        out = self.pending.take(ready)
        self.pending, self._pending_owner = self.pending.take(~ready), self._pending_owner[~ready]
        return out

    # -------------------------------------------------------------- truth.incidents

    def record(self, conn: psycopg.Connection, run_id: int | None = None) -> None:
        """Write each incident's row (first call) or its counts so far (later calls), in the caller's
        transaction; ``run_id`` links them to their truth.simulation_runs row."""
        for inc in self.injected:
            detail = json.dumps(inc.detail)
            if inc.incident_id is None:
                inc.incident_id = conn.execute(
                    """
                    insert into truth.incidents
                        (run_id, kind, starts_at, ends_at, category, rows_affected, detail)
                    values (%s, %s, %s, %s, %s, %s, %s) returning incident_id
                    """,
                    (run_id, inc.kind, inc.starts_at, inc.ends_at, inc.category, inc.rows_affected, detail),
                ).fetchone()[0]
            else:
                conn.execute(
                    """
                    update truth.incidents
                    set rows_affected = %s, detail = %s, run_id = coalesce(%s, run_id)
                    where incident_id = %s
                    """,
                    (inc.rows_affected, detail, run_id, inc.incident_id),
                )

    def category_of(self, product_id: np.ndarray) -> np.ndarray:
        return self._category_of[product_id]


# ------------------------------------------------------------------ the kinds


def _may_touch(inj: Injected, batch: EventBatch) -> bool:
    """False when no row of the batch can be in the incident's window (most batches of a history)."""
    times = _column_us(batch.loaded_at if inj.kind == DUPLICATE_STORM else batch.occurred_at)
    return bool(times.min() < inj.ends_us and times.max() >= inj.starts_us)


def _occurring(inj: Injected, batch: EventBatch) -> np.ndarray:
    occurred = _column_us(batch.occurred_at)
    return (occurred >= inj.starts_us) & (occurred < inj.ends_us)


def _in_scope(injector: Injector, inj: Injected, batch: EventBatch) -> np.ndarray:
    hit = _occurring(inj, batch)
    if inj.category_index is not None and hit.any():
        hit &= injector.category_of(batch.product_id) == inj.category_index
    return hit


def _capped(injector: Injector, loaded_us: np.ndarray) -> np.ndarray:
    return loaded_us if injector.cap_us is None else np.minimum(loaded_us, injector.cap_us)


def _sorted(batch: EventBatch) -> EventBatch:
    return batch.take(np.argsort(_column_us(batch.occurred_at), kind="stable"))


def _tracking_outage(injector: Injector, inj: Injected, batch: EventBatch) -> EventBatch:
    lost = _in_scope(injector, inj, batch)
    if not lost.any():
        return batch
    inj.rows_affected += int(lost.sum())
    return batch.take(~lost)


def _duplicate_storm(injector: Injector, inj: Injected, batch: EventBatch) -> EventBatch:
    loaded = _column_us(batch.loaded_at)
    hit = np.flatnonzero((loaded >= inj.starts_us) & (loaded < inj.ends_us))
    if not len(hit):
        return batch
    copies = inj.detail["copies"]
    rows = np.repeat(hit, copies)
    nth = np.tile(np.arange(1, copies + 1), len(hit))
    # Each retry a little later than the one before: one to sixty seconds apart.
    wait = (1 + 59 * _row_uniform(batch.event_id[rows], inj.salt)) * US_PER_SECOND * nth
    extra = batch.take(rows)
    extra.loaded_at = _capped(injector, loaded[rows] + wait.astype(np.int64)).view("datetime64[us]")
    inj.rows_affected += len(rows)
    return _sorted(EventBatch.concat([batch, extra]))


def _late_burst(injector: Injector, inj: Injected, batch: EventBatch) -> EventBatch:
    hit = _occurring(inj, batch)
    if not hit.any():
        return batch
    arrives = _us(datetime.fromisoformat(inj.detail["arrives_from"]))
    spread = (_row_uniform(batch.event_id[hit], inj.salt) * _BURST_SPREAD_US).astype(np.int64)
    loaded = _column_us(batch.loaded_at).copy()
    loaded[hit] = _capped(injector, np.maximum(arrives + spread, loaded[hit]))
    batch.loaded_at = loaded.view("datetime64[us]")
    inj.rows_affected += int(hit.sum())
    return batch


def _price_bug(injector: Injector, inj: Injected, batch: EventBatch) -> EventBatch:
    hit = _in_scope(injector, inj, batch)
    if not hit.any():
        return batch
    cents = batch.unit_price_cents.copy()
    cents[hit] = np.clip(np.round(cents[hit] * inj.detail["factor"]), 1, _MAX_CENTS).astype(np.int64)
    batch.unit_price_cents = cents
    inj.rows_affected += int(hit.sum())
    return batch


def _checkout_break(injector: Injector, inj: Injected, batch: EventBatch) -> EventBatch:
    rows = np.flatnonzero(_occurring(inj, batch))
    rows = rows[batch.take(rows).event_type_code() == PURCHASE]
    if not len(rows):
        return batch
    lost = rows[_row_uniform(batch.order_id[rows], inj.salt) >= inj.detail["keep"]]
    inj.rows_affected += len(lost)
    keep = np.ones(len(batch), dtype=bool)
    keep[lost] = False
    return batch.take(keep)


def _bot_traffic(injector: Injector, inj: Injected, batch: EventBatch) -> EventBatch:
    return batch  # its rows were made up front and wait in the injector until their time


def _bot_rows(world: World, inj: Injected) -> EventBatch:
    """The bot's views: one user, random products, uniform over the window."""
    rng = np.random.default_rng([inj.salt, 1])
    incident = inj.incident
    if incident.user_id is not None:
        if incident.user_id > world.n_users:
            raise IncidentError(f"{incident.spec}: the shop has no user {incident.user_id} "
                                f"(its users are 1 to {world.n_users})")
        user = incident.user_id - 1
    else:
        before = np.flatnonzero(world.users.signup_us < inj.starts_us)
        if not len(before):
            raise IncidentError(f"{incident.spec}: no user signed up before it starts; give a later START")
        user = int(rng.choice(before))
    views = incident.views or DEFAULT_VIEWS
    occurred = np.sort(rng.integers(inj.starts_us, inj.ends_us, views))
    product = rng.integers(0, world.n_products, views)
    session = (occurred - inj.starts_us) // _BOT_SESSION_US
    session_ids = uuid4_bytes(rng, int(session.max(initial=0)) + 1)
    inj.detail.update(user_id=int(world.users.user_id[user]), views=views)
    return EventBatch(
        event_id=uuid4_bytes(rng, views),
        session_id=np.take(session_ids, session, axis=0),
        user_id=np.full(views, world.users.user_id[user], dtype=np.int64),
        product_id=world.products.product_id[product],
        event_type=np.full(views, "view", dtype="<U12"),
        quantity=np.ones(views, dtype=np.int32),
        unit_price_cents=world.prices.price_at(product, occurred),
        order_id=np.zeros((views, 16), dtype=np.uint8),
        has_order=np.zeros(views, dtype=bool),
        recommendation_variant=np.full(views, None, dtype=object),
        occurred_at=occurred.view("datetime64[us]"),
        loaded_at=(occurred + rng.integers(US_PER_SECOND // 2, 3 * US_PER_SECOND, views)).view("datetime64[us]"),
    )


_TRANSFORMS = {
    TRACKING_OUTAGE: _tracking_outage,
    DUPLICATE_STORM: _duplicate_storm,
    LATE_BURST: _late_burst,
    PRICE_BUG: _price_bug,
    CHECKOUT_BREAK: _checkout_break,
    BOT_TRAFFIC: _bot_traffic,
}
