"""Served recommendations, logged off the request path: handlers append to a buffer in memory and
a background task writes it to raw.served_recommendations with COPY every
SHOP_API_LOG_FLUSH_INTERVAL_S. While the database is down the buffer keeps up to MAX_PENDING
rows (the oldest are dropped beyond that, and counted)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import NamedTuple
from uuid import UUID

from recommender.api import metrics
from recommender.api.database import Database, DatabaseUnavailable

log = logging.getLogger("shop.api")

MAX_PENDING = 200_000
_COPY = ("copy raw.served_recommendations "
         "(request_id, user_id, variant, model_id, strategy, product_ids, served_at) from stdin")


class Served(NamedTuple):
    request_id: UUID
    user_id: int
    variant: str
    model_id: str | None
    strategy: str
    product_ids: list[int]
    served_at: float  # unix seconds


class ServedLog:
    def __init__(self) -> None:
        self.pending: list[Served] = []
        self.dropped = 0

    def record(self, row: Served) -> None:
        self.pending.append(row)
        if len(self.pending) > MAX_PENDING:
            excess = len(self.pending) - MAX_PENDING
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
                        for r in rows:
                            await copy.write_row((
                                r.request_id, r.user_id, r.variant, r.model_id, r.strategy, r.product_ids,
                                datetime.fromtimestamp(r.served_at, timezone.utc),
                            ))
        except DatabaseUnavailable:
            self.pending[:0] = rows  # keep them for the next try
            if len(self.pending) > MAX_PENDING:
                excess = len(self.pending) - MAX_PENDING
                del self.pending[:excess]
                self.dropped += excess
                metrics.SERVED_DROPPED.inc(excess)
            return 0
        except Exception:  # noqa: BLE001 - never let logging take the service down
            log.exception("could not write %d served-recommendation rows; dropping them", len(rows))
            self.dropped += len(rows)
            metrics.SERVED_DROPPED.inc(len(rows))
            return 0
        metrics.SERVED_LOGGED.inc(len(rows))
        return len(rows)
