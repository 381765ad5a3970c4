"""Which database the dashboard reads, resolved from the SHOP_* settings as the `shop` command does.

No connection is held between queries: each query opens one and closes it (a Unix-socket or local
connection costs milliseconds; results are cached anyway). The dashboard never starts the embedded
server nor migrates anything: `shop serve dashboard` does that before the app starts, and a server
that is down is reported on the page.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import streamlit as st

from app.errors import DataUnavailable
from shopcore import db
from shopcore.errors import ShopError
from shopcore.settings import Settings

RESOLVE_TTL_S = 30
# Every session is read-only, and a query that runs away is stopped rather than freezing the page.
# UTC: the semantic layer's metric_time__day truncates in the session's time zone, and days are UTC days.
SESSION_OPTIONS = "-c default_transaction_read_only=on -c statement_timeout=20000 -c timezone=UTC"


def database_key() -> str:
    """The libpq connection string of the configured database; also the cache key of every query."""
    settings = Settings()  # read the environment afresh: no restart needed after changing it
    try:
        return _resolve(settings.database_url, str(settings.home_dir), settings.database_name)
    except ShopError as exc:
        raise DataUnavailable(str(exc)) from exc


@st.cache_data(ttl=RESOLVE_TTL_S, show_spinner=False)
def _resolve(database_url: str | None, home: str, database_name: str) -> str:
    settings = Settings(database_url=database_url, home=home, database_name=database_name)
    return db.resolve(settings, start=False).conninfo(application_name="shop-dashboard")


@contextmanager
def connect(conninfo: str) -> Iterator[psycopg.Connection]:
    """A read-only connection for one query; a server that cannot be reached becomes DataUnavailable."""
    try:
        conn = psycopg.connect(conninfo, autocommit=True, options=SESSION_OPTIONS)
    except psycopg.OperationalError as exc:
        raise DataUnavailable(
            f"Cannot connect to the database: {str(exc).strip()}. "
            "Check that it is running (`shop db status`, `shop db start`) and reload the page."
        ) from exc
    with conn:
        yield conn
