"""Served recommendations, logged off the request path: handlers append a small tuple to a buffer
in memory and a background task writes it to raw.served_recommendations with COPY every
SHOP_API_LOG_FLUSH_INTERVAL_S. While the database is down the buffer keeps up to MAX_PENDING
rows (the oldest are dropped beyond that, and counted).

Cheap on both ends, because a busy server serves thousands of lists a second: what one answer
logs besides its request id, user and time (variant, model, strategy, product ids) is turned into
COPY text once per answer (``row_tail``, cached with the answer), and a flush writes the batch
as COPY text in chunks (yielding to requests in between) instead of formatting each row's fields
through the driver.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections.abc import Sequence

from recommender.api import metrics
from recommender.api.database import Database, DatabaseUnavailable

log = logging.getLogger("shop.api")

MAX_PENDING = 200_000
CHUNK_ROWS = 500  # rows per write to the COPY stream (under a millisecond of formatting)
_COPY = ("copy raw.served_recommendations "
         "(request_id, user_id, variant, model_id, strategy, product_ids, served_at) from stdin")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})

# One pending row: request id (UUID text), user id, unix time, row_tail(...).
Served = tuple[str, int, float, str]


def _copy_text(value: str | None) -> str:
    return "\\N" if value is None else value.translate(_ESCAPES)


def row_tail(variant: str, model_id: str | None, strategy: str, product_ids: Sequence[int]) -> str:
    """The COPY text of a row's variant, model_id, strategy and product_ids columns, tab-led and
    tab-ended (the same for every request served the same answer)."""
    ids = ",".join(map(str, product_ids))
    return f"\t{_copy_text(variant)}\t{_copy_text(model_id)}\t{_copy_text(strategy)}\t{{{ids}}}\t"


class RequestIds:
    """Request ids for responses: UUIDs in the version 4 layout whose first 74 free bits are drawn
    once (per process: the lifespan makes one) and whose last 48 bits count requests, so that each
    id is unique without asking the OS for randomness on every request."""

    def __init__(self) -> None:
        r = secrets.randbits(74)
        self._prefix = (f"{r >> 42:08x}-{(r >> 26) & 0xFFFF:04x}-4{(r >> 14) & 0xFFF:03x}-"
                        f"{0x8000 | (r & 0x3FFF):04x}-")
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFF:012x}"


class ServedLog:
    def __init__(self) -> None:
        self.pending: list[Served] = []
        self.dropped = 0

    def record(self, row: Served) -> None:
        pending = self.pending
        pending.append(row)
        if len(pending) > MAX_PENDING:
            self._trim()

    def _trim(self) -> None:
        excess = len(self.pending) - MAX_PENDING
        if excess > 0:
            del self.pending[:excess]
            self.dropped += excess
            metrics.SERVED_DROPPED.inc(excess)

    async def flush(self, db: Database) -> int:
        if not self.pending:
            return 0
        rows, self.pending = self.pending, []
        try:
            async with db.connection() as conn:
                async with conn.cursor() as cur:
                    async with cur.copy(_COPY) as copy:
                        for start in range(0, len(rows), CHUNK_ROWS):
                            await copy.write(copy_lines(rows[start:start + CHUNK_ROWS]))
                            await asyncio.sleep(0)  # let waiting requests in between chunks
        except DatabaseUnavailable:
            self.pending[:0] = rows  # keep them for the next try
            self._trim()
            return 0
        except Exception:  # noqa: BLE001 - never let logging take the service down
            log.exception("could not write %d served-recommendation rows; dropping them", len(rows))
            self.dropped += len(rows)
            metrics.SERVED_DROPPED.inc(len(rows))
            return 0
        metrics.SERVED_LOGGED.inc(len(rows))
        return len(rows)


def copy_lines(rows: Sequence[Served]) -> bytes:
    """COPY text lines for pending rows; served_at in UTC with microseconds."""
    out = []
    second, stamp = None, ""
    for request_id, user_id, served_at, tail in rows:
        whole = int(served_at)
        if whole != second:
            second, stamp = whole, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(whole))
        out.append(f"{request_id}\t{user_id}{tail}{stamp}.{int((served_at - whole) * 1e6):06d}+00\n")
    return "".join(out).encode()
