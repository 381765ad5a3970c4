"""Events newer than the served models' data watermark, per user, in memory.

The models were trained on everything loaded up to their watermark; what arrived since is
folded in at request time. Instead of a query per request, the API tails raw.interactions
(indexed on loaded_at) every SHOP_API_POLL_INTERVAL_S and keeps each user's newest events here;
events written through this process's POST /events are added the moment they commit. So a
recommendation reflects a new event immediately on the process that took it and within one poll
interval on the others, and keeps being served from memory when the database is down.

A transaction's loaded_at is its start time, so a slow writer can commit rows older than ones
already read: every poll re-reads the last OVERLAP_US and de-duplicates on event_id.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple
from uuid import UUID

from shopcore.events import EVENT_TYPES, normalise_event_type

OVERLAP_US = 2_000_000
PAGE_ROWS = 50_000
PER_USER = 200  # newest events kept per user: plenty for fold-in


class FreshEvent(NamedTuple):
    product_id: int
    event_type: str  # view, add_to_cart, purchase
    loaded_us: int
    event_id: UUID


class FreshEvents:
    def __init__(self) -> None:
        self.by_user: dict[int, list[FreshEvent]] = {}
        self.floor_us: int | None = None  # events with loaded_us > floor_us are held; None: none
        self.cursor_us: int | None = None  # newest loaded_us read from the database
        self._recent_ids: OrderedDict[UUID, int] = OrderedDict()  # ids within the overlap window
        self.version = 0  # bumps on every change, for caches

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_user.values())

    def add(self, user_id: int, event: FreshEvent) -> bool:
        """Hold one event (False when it is a redelivery or older than the floor)."""
        if self.floor_us is None or event.loaded_us <= self.floor_us or event.event_id in self._recent_ids:
            return False
        if event.event_type not in EVENT_TYPES:
            return False
        events = self.by_user.setdefault(user_id, [])
        if any(e.event_id == event.event_id for e in events[-PER_USER:]):
            return False
        events.append(event)
        if len(events) > PER_USER:
            del events[: len(events) - PER_USER]
        self._recent_ids[event.event_id] = event.loaded_us
        self.version += 1
        return True

    def for_user(self, user_id: int, after_us: int | None) -> list[FreshEvent]:
        events = self.by_user.get(user_id)
        if not events or after_us is None:
            return []
        return [e for e in events if e.loaded_us > after_us]

    def advance(self, cursor_us: int) -> None:
        if self.cursor_us is None or cursor_us > self.cursor_us:
            self.cursor_us = cursor_us
        horizon = self.cursor_us - 4 * OVERLAP_US
        while self._recent_ids:
            key, loaded = next(iter(self._recent_ids.items()))
            if loaded >= horizon:
                break
            self._recent_ids.popitem(last=False)

    def read_from_us(self) -> int | None:
        """Where the next poll starts (exclusive)."""
        if self.floor_us is None:
            return None
        if self.cursor_us is None:
            return self.floor_us
        return max(self.floor_us, self.cursor_us - OVERLAP_US)

    def set_floor(self, floor_us: int | None) -> bool:
        """Hold events newer than ``floor_us``; True when older events must be read (backfill)."""
        if floor_us is None:
            self.by_user.clear()
            self.floor_us = self.cursor_us = None
            self._recent_ids.clear()
            self.version += 1
            return False
        if self.floor_us is None or floor_us < self.floor_us:
            self.floor_us, self.cursor_us = floor_us, None  # re-read from the new floor
            self.version += 1
            return True
        if floor_us > self.floor_us:
            self.floor_us = floor_us
            for user_id in list(self.by_user):
                kept = [e for e in self.by_user[user_id] if e.loaded_us > floor_us]
                if kept:
                    self.by_user[user_id] = kept
                else:
                    del self.by_user[user_id]
            self.version += 1
        return False


_POLL = """
    select user_id, product_id, event_type, event_id,
           (extract(epoch from loaded_at) * 1000000)::int8 as loaded_us
    from raw.interactions
    where loaded_at > timestamptz 'epoch' + %s::int8 * interval '1 microsecond'
    order by loaded_at
    limit %s
"""


async def poll(conn, fresh: FreshEvents) -> int:
    """Read events newer than what ``fresh`` holds; returns how many rows were read."""
    start = fresh.read_from_us()
    if start is None:
        return 0
    total = 0
    while True:
        rows = await (await conn.execute(_POLL, (start, PAGE_ROWS))).fetchall()
        newest = start
        for user_id, product_id, event_type, event_id, loaded_us in rows:
            fresh.add(user_id, FreshEvent(product_id, normalise_event_type(event_type), loaded_us, event_id))
            newest = max(newest, loaded_us)
        total += len(rows)
        if rows:
            fresh.advance(newest)
        if len(rows) < PAGE_ROWS:
            return total
        start = newest
