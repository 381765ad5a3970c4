"""Scope a warehouse build's data tests to what changed since the previous successful build.

Tests on the large tables check recently loaded rows in ordinary runs (`__recently_loaded__` and
`__recent_event_days__` in dbt_project/macros/test_scope.sql). "Recent" is best defined as "loaded
since the previous complete, successful build started reading raw": each such build records that
point in shop_meta.warehouse_builds (migration 0007), and the next one passes it to dbt in the
environment variable SHOP_TEST_LOADED_AFTER (a var would make dbt re-parse the project whenever it
changes). Without a record (first build, plain `dbt build`, Spark) the macros fall
back to the last `test_recent_days` days.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from shopcore.db import ConnectionInfo
from shopcore.errors import ShopError

# As the models' watermark_overlap_minutes: rows a concurrent loader committed late carry a
# loaded_at (its transaction's start) before the recorded point.
OVERLAP = timedelta(minutes=5)
log = logging.getLogger(__name__)


# Other sessions' transactions that could still commit rows: their start bounds what this build
# surely reads. A session we may not see (another role, without pg_read_all_stats) leaves it unknown.
SETTLED_BEFORE = """
    select case when bool_or(query = '<insufficient privilege>') then null
                else least(now(), min(xact_start)) end
    from pg_stat_activity
    where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'
"""


@dataclass(frozen=True)
class BuildStart:
    previous: datetime | None  # where the previous successful build started reading raw; None: unknown
    raw_loaded_through: datetime | None  # the newest raw load now, as this build starts
    # Every raw row loaded before this point was committed when the build started (no other open
    # transaction began earlier), so every model the build writes holds it; None: unknown.
    settled_before: datetime | None = None

    def test_loaded_after(self) -> str | None:
        """SHOP_TEST_LOADED_AFTER for this build (ISO 8601), or None to keep the fallback."""
        return None if self.previous is None else (self.previous - OVERLAP).isoformat()

    def test_settled_before(self) -> str:
        """SHOP_TEST_SETTLED_BEFORE for this build (ISO 8601), or '' where it is unknown. The
        reconciliation tests then count a day settled for a mart when its raw rows were loaded before
        this point, as well as before the mart's newest load (dbt_project/macros/test_scope.sql): a
        batch loaded before the build is reconciled by that build, not left out as the newest load."""
        return "" if self.settled_before is None else self.settled_before.isoformat()


def _connect(env: Mapping[str, str]) -> psycopg.Connection:
    return psycopg.connect(ConnectionInfo.from_env(env).conninfo(), autocommit=True)


def applies(env: Mapping[str, str]) -> bool:
    """Marks live beside raw in PostgreSQL: not for a Spark target."""
    return env.get("SHOP_DBT_TARGET", os.environ.get("SHOP_DBT_TARGET", "postgres")) == "postgres"


def begin(env: Mapping[str, str]) -> BuildStart | None:
    """Read the previous mark and this build's starting point; None where there is no mark table
    (a database without migration 0007) or no database to ask (dbt will then say why)."""
    if not applies(env):
        return None
    try:
        with _connect(env) as conn:
            if not conn.execute("select to_regclass('shop_meta.warehouse_builds') is not null").fetchone()[0]:
                return None
            row = conn.execute(
                "select raw_loaded_through from shop_meta.warehouse_builds order by build_id desc limit 1"
            ).fetchone()
            now = conn.execute("select max(loaded_at) from raw.interactions").fetchone()[0]
            settled_before = conn.execute(SETTLED_BEFORE).fetchone()[0]
    except (psycopg.Error, ShopError):
        return None
    return BuildStart(previous=row[0] if row else None, raw_loaded_through=now, settled_before=settled_before)


def record(env: Mapping[str, str], start: BuildStart, *, full_refresh: bool) -> None:
    """Record a complete, successful build (its data is then tested up to start.raw_loaded_through).
    A failure to record loses no data: the next build tests from the previous mark, more rows."""
    try:
        with _connect(env) as conn:
            conn.execute(
                "insert into shop_meta.warehouse_builds (full_refresh, raw_loaded_through) values (%s, %s)",
                (full_refresh, start.raw_loaded_through),
            )
    except (psycopg.Error, ShopError) as exc:
        log.warning("could not record the build in shop_meta.warehouse_builds: %s", exc)
