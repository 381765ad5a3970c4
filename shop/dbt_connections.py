"""Each dbt thread keeps its PostgreSQL connection from one node to the next, reset in between as a
connection pool resets a connection it gets back.

dbt closes a thread's connection after every node (dbt-adapters' `BaseConnectionManager.release`:
"always close the connection"), so every model and test of a build starts a new server backend: a
fork, an authentication, and catalog caches filled again by the node's first statements. Here
`release` instead leaves the connection open for the thread's next node after resetting its session:

- whatever transaction the node left open is rolled back (what dbt's close did too);
- `DISCARD ALL` then drops the session's temporary tables, prepared statements, cursors, cached
  plans and sequence state, releases its session advisory locks, stops its listening and resets
  every `set` (role included) to the session's defaults, which are the values the connection was
  opened with (time zone, search path, application name): the next node sees the session a new
  connection would give it.

A connection that is not open (a node that never ran SQL), whose reset fails, that is closed or
broken (a terminated backend) or not idle after the reset is closed as dbt closes it, and the next
node opens a new one. Only plain psycopg2 connections without a profile `role` are kept (the role
would be reset with the rest); others, and any adapter but PostgreSQL's, keep dbt's behaviour.

dbt closes every thread's connection at the end of a run (`cleanup_all`); leaving `kept_per_thread`
closes any it kept that is still open, so no backend outlives the run either way.

The hooks are dbt-adapters 1.x's (`BaseConnectionManager.release`, `get_if_exists`, `close`,
`clear_thread_connection`); without them, or with a PostgreSQL manager that releases its own way,
dbt's behaviour stays.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

# The connection manager's attributes `release` relies on; another dbt-adapters may not have them.
_MANAGER_METHODS = ("release", "get_if_exists", "close", "clear_thread_connection")


def _postgres_manager() -> type | None:
    """dbt-postgres' connection manager, when it releases connections as dbt-adapters 1.x does."""
    try:
        from dbt.adapters.base.connections import BaseConnectionManager
        from dbt.adapters.postgres.connections import PostgresConnectionManager
    except ImportError:
        return None
    if not all(callable(getattr(PostgresConnectionManager, name, None)) for name in _MANAGER_METHODS):
        return None
    if PostgresConnectionManager.release is not BaseConnectionManager.__dict__.get("release"):
        return None  # dbt-postgres (or a newer dbt-adapters) releases its own way: not what this resets
    return PostgresConnectionManager


def can_keep() -> bool:
    """Whether this dbt's connections can be kept between nodes (False: dbt closes them)."""
    return _postgres_manager() is not None


def reset_session(handle: Any) -> bool:
    """Roll back and `DISCARD ALL` on a psycopg2 connection; True when it is idle and clean after."""
    import psycopg2
    import psycopg2.extensions

    if type(handle) is not psycopg2.extensions.connection or handle.closed:
        return False
    try:
        handle.rollback()
        autocommit = handle.autocommit
        # DISCARD ALL cannot run inside a transaction block.
        handle.autocommit = True
        try:
            with handle.cursor() as cursor:
                cursor.execute("DISCARD ALL")
        finally:
            handle.autocommit = autocommit
        return handle.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    except psycopg2.Error:
        return False


@contextmanager
def kept_per_thread() -> Iterator[None]:
    """While inside, a dbt thread's connection stays open between its nodes, reset in between."""
    manager = _postgres_manager()
    if manager is None:
        log.debug("dbt releases connections another way: each node opens its own")
        yield
        return
    from dbt.adapters.contracts.connection import ConnectionState

    kept: dict[int, Any] = {}
    kept_lock = threading.Lock()
    dbt_release = manager.release

    def release(self: Any) -> None:
        conn = self.get_if_exists()
        if conn is None or conn.state != ConnectionState.OPEN:
            return dbt_release(self)
        if getattr(conn.credentials, "role", None) or not reset_session(conn.handle):
            return dbt_release(self)  # dbt's close: rolls back what it can and closes
        conn.transaction_open = False
        with kept_lock:
            kept[id(conn)] = (self, conn)
        return None

    manager.release = release
    try:
        yield
    finally:
        # Inherited again, as before: the class's own namespace had no release of its own.
        del manager.release
        with kept_lock:
            left = list(kept.values())
            kept.clear()
        for owner, conn in left:
            if conn.state == ConnectionState.OPEN:
                try:
                    owner.close(conn)
                except Exception:  # a connection already broken: nothing left to close
                    log.debug("closing a kept dbt connection failed", exc_info=True)
