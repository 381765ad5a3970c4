"""Impressions (served recommendation lists), logged off the request path: handlers append a small
tuple to a buffer in memory and a background task writes it to raw.served_recommendations with
COPY every SHOP_API_LOG_FLUSH_INTERVAL_S. While the database is down the buffer keeps up to
MAX_PENDING rows (the oldest are dropped beyond that, and counted). Rows in the buffer are lost if
the process is killed (kill -9, a crash, the OOM killer): up to one flush interval's worth, or
everything held during an outage; a normal stop (SIGTERM, Ctrl-C) writes them first.

What is logged (``ServedLog.impression``; the README's "Impressions and A/B counting"):

- the same answer (variant, model, strategy and products) to the same user within
  SHOP_API_IMPRESSION_WINDOW_S of the first is the same impression: it is answered with that
  impression's request id and not logged again;
- at most SHOP_API_IMPRESSIONS_PER_S rows a second are logged (a token bucket, one second of
  burst), and of those at most SHOP_API_UNKNOWN_IMPRESSIONS_PER_S for users the API has no history
  of, so that requests for made-up ids cannot crowd out the impressions of known users; rows over
  either ceiling are dropped and counted (shop_api_served_log_dropped_total{reason=...}).

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
from collections import OrderedDict
from collections.abc import Sequence

from recommender.api import metrics
from recommender.api.database import Database, DatabaseUnavailable

log = logging.getLogger("shop.api")

MAX_PENDING = 200_000
MAX_RECENT = 200_000  # impressions remembered for the window (the oldest are forgotten first)
CHUNK_ROWS = 500  # rows per write to the COPY stream (under a millisecond of formatting)
FLUSH_ROWS = 20_000  # rows per transaction
_COPY = ("copy raw.served_recommendations "
         "(request_id, user_id, variant, model_id, strategy, product_ids, variant_weights, served_at) from stdin")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})

# One pending row: request id (UUID text), user id, unix time, row_tail(...).
Served = tuple[str, int, float, str]


def _copy_text(value: str | None) -> str:
    return "\\N" if value is None else value.translate(_ESCAPES)


def row_tail(variant: str, model_id: str | None, strategy: str, product_ids: Sequence[int], variant_weights: str) -> str:
    """The COPY text of a row's variant, model_id, strategy, product_ids and variant_weights (JSON)
    columns, tab-led and tab-ended (the same for every request served the same answer)."""
    ids = ",".join(map(str, product_ids))
    return (f"\t{_copy_text(variant)}\t{_copy_text(model_id)}\t{_copy_text(strategy)}\t{{{ids}}}"
            f"\t{_copy_text(variant_weights)}\t")


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


class _Bucket:
    """A token bucket: ``rate`` a second, at most one second's worth saved up."""

    def __init__(self, rate: float) -> None:
        self.rate, self.capacity = rate, max(rate, 1.0)
        self.tokens, self.at = self.capacity, time.monotonic()

    def has(self, now: float) -> bool:
        if self.rate <= 0:
            return False
        elapsed = now - self.at
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.at = now
        return self.tokens >= 1.0

    def take(self) -> None:
        self.tokens -= 1.0


class ServedLog:
    def __init__(self, request_ids: RequestIds | None = None, *, window_s: float = 30.0,
                 rows_per_s: float = 200.0, unknown_rows_per_s: float = 20.0) -> None:
        self.pending: list[Served] = []
        self.dropped = 0
        self.request_ids = request_ids or RequestIds()
        self.window_s = window_s
        self._rows = _Bucket(rows_per_s)
        self._unknown_rows = _Bucket(unknown_rows_per_s)
        # (user, answer's row tail) -> (request id, served at): the impressions within the window,
        # oldest first.
        self._recent: OrderedDict[tuple[int, str], tuple[str, float]] = OrderedDict()

    def impression(self, user_id: int, tail: str, known: bool, now: float) -> str:
        """The request id to answer with, logging a new impression when this is one (see the module)."""
        key = (user_id, tail)
        window = self.window_s
        if window > 0:
            seen = self._recent.get(key)
            if seen is not None and now - seen[1] < window:
                metrics.SERVED_REPEATS.inc()
                return seen[0]
        request_id = self.request_ids.next()
        tick = time.monotonic()
        if not self._rows.has(tick):
            self._drop("rate")
            return request_id  # not remembered: the next identical answer may be logged
        if not known:
            if not self._unknown_rows.has(tick):
                self._drop("unknown_rate")
                return request_id
            self._unknown_rows.take()
        self._rows.take()
        if window > 0:
            recent = self._recent
            recent[key] = (request_id, now)
            recent.move_to_end(key)
            if len(recent) > MAX_RECENT:
                recent.popitem(last=False)
        self.record((request_id, user_id, now, tail))
        return request_id

    def forget_old(self, now: float) -> None:
        """Drop remembered impressions older than the window (the flush task calls this)."""
        recent, cutoff = self._recent, now - self.window_s
        while recent:
            key, (_, at) = next(iter(recent.items()))
            if at >= cutoff:
                break
            del recent[key]

    def _drop(self, reason: str, n: int = 1) -> None:
        self.dropped += n
        metrics.SERVED_DROPPED.labels(reason).inc(n)

    def record(self, row: Served) -> None:
        pending = self.pending
        pending.append(row)
        if len(pending) > MAX_PENDING:
            self._trim()

    def _trim(self) -> None:
        excess = len(self.pending) - MAX_PENDING
        if excess > 0:
            del self.pending[:excess]
            self._drop("buffer", excess)

    async def flush(self, db: Database) -> int:
        """Write what is pending, in transactions of at most FLUSH_ROWS rows (so that a backlog after
        an outage stays within the statement timeout); what could not be written yet stays pending."""
        written = 0
        while self.pending:
            rows, self.pending = self.pending[:FLUSH_ROWS], self.pending[FLUSH_ROWS:]
            try:
                async with db.connection() as conn:
                    async with conn.cursor() as cur:
                        async with cur.copy(_COPY) as copy:
                            for start in range(0, len(rows), CHUNK_ROWS):
                                await copy.write(copy_lines(rows[start:start + CHUNK_ROWS]))
                                await asyncio.sleep(0)  # let waiting requests in between chunks
            except DatabaseUnavailable:  # down or busy: keep them for the next try
                self.pending[:0] = rows
                self._trim()
                return written
            except Exception:  # noqa: BLE001 - never let logging take the service down
                log.exception("could not write %d served-recommendation rows; dropping them", len(rows))
                self._drop("error", len(rows))
                continue
            metrics.SERVED_LOGGED.inc(len(rows))
            written += len(rows)
        return written


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
