"""The API's database connections: an async pool that is dropped when the server goes away and
rebuilt when it is back, so that handlers can tell "down" at once instead of waiting on timeouts.

Every wait is bounded: a connection from the pool (SHOP_API_POOL_WAIT_S), a lock
(SHOP_API_LOCK_TIMEOUT_S, PostgreSQL's lock_timeout) and a statement (SHOP_API_STATEMENT_TIMEOUT_S).
Running out of any of them is "busy" (``DatabaseBusy``: 503 with Retry-After, the transaction
rolled back, the pool kept), not "unreachable": only a failed connection marks the database down,
and while requests find it busy the supervisor checks with a connection of its own that it is
really there (``probe``).

What a client sees (``str()`` of the exceptions, /health/ready) names the database and says what is
wrong, never a host, socket path or SHOP_HOME; the log has the driver's full message.

Nothing here is module-level: the lifespan creates one ``Database`` per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from recommender.api.settings import ApiSettings
from shopcore import db as shop_db

log = logging.getLogger("shop.api")

CONNECT_TIMEOUT_S = 2
PROBE_EVERY_S = 2.0  # while requests find the database busy, check this often that it is up


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached right now; the message (for clients) says so, without paths."""


class DatabaseBusy(DatabaseUnavailable):
    """The database is up but did not serve this request in time (pool, lock or statement timeout)."""


def database_name(settings: ApiSettings) -> str:
    """The database's name, for messages (never its host, socket or SHOP_HOME)."""
    if settings.database_url:
        try:
            return shop_db.parse_database_url(settings.database_url).dbname
        except Exception:  # noqa: BLE001 - a bad URL is reported when connecting
            return "shop"
    return settings.database_name


def conninfo_provider(settings: ApiSettings) -> Callable[[], str]:
    """Connection string, re-resolved on every reconnect (an embedded server may come back elsewhere).

    Every connection carries the API's statement and lock timeouts."""
    shop_settings = settings.shop_settings()
    options = (f"-c statement_timeout={max(1, round(settings.api_statement_timeout_s * 1000))} "
               f"-c lock_timeout={max(1, round(settings.api_lock_timeout_s * 1000))}")

    def conninfo() -> str:
        info = shop_db.resolve(shop_settings, start=False)
        return info.conninfo(connect_timeout=CONNECT_TIMEOUT_S, application_name="shop-api", options=options)

    return conninfo


class Database:
    def __init__(self, conninfo: Callable[[], str], *, name: str = "shop", max_size: int = 4,
                 pool_wait_s: float = 1.0, lock_timeout_s: float | None = None,
                 statement_timeout_s: float | None = None) -> None:
        self._conninfo = conninfo
        self._max_size = max_size
        self.name = name
        self.pool_wait_s = pool_wait_s
        self.lock_timeout_s = lock_timeout_s
        self.statement_timeout_s = statement_timeout_s
        self.pool: AsyncConnectionPool | None = None
        self.up = False
        self.last_error: str | None = "not connected yet"  # the driver's message: for the log only
        self.reason: str = self.unreachable()  # what clients are told
        self.changed_at = time.monotonic()
        self._lock = asyncio.Lock()
        self._probed_at = 0.0

    @classmethod
    def for_settings(cls, settings: ApiSettings) -> Database:
        return cls(conninfo_provider(settings), name=database_name(settings), max_size=settings.api_pool_size,
                   pool_wait_s=settings.api_pool_wait_s, lock_timeout_s=settings.api_lock_timeout_s,
                   statement_timeout_s=settings.api_statement_timeout_s)

    def unreachable(self, exc: BaseException | None = None) -> str:
        """What a client is told when a connection fails: the database's name and the kind of failure."""
        sqlstate = getattr(exc, "sqlstate", None)
        if sqlstate in ("28000", "28P01"):
            return f'the database "{self.name}" refused the API\'s credentials'
        if sqlstate == "3D000":
            return f'the database "{self.name}" does not exist'
        if sqlstate in ("57P03", "57P01", "57P02"):
            return f'the database "{self.name}" is starting up or shutting down'
        return f'the database "{self.name}" is unreachable'

    async def connect(self) -> bool:
        """Try once to (re)connect; True when the database is reachable."""
        async with self._lock:
            if self.up and self.pool is not None:
                return True
            try:
                info = await asyncio.to_thread(self._conninfo)
                probe = await psycopg.AsyncConnection.connect(info, autocommit=True)
                await probe.close()
                pool = AsyncConnectionPool(
                    info, min_size=1, max_size=self._max_size, open=False, name="shop-api",
                    check=AsyncConnectionPool.check_connection, reconnect_timeout=30,
                )
                await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S * 2)
            except Exception as exc:  # noqa: BLE001 - any failure means "not reachable", with its message
                self._set_down(_describe(exc), self.unreachable(exc))
                return False
            self.pool = pool
            if not self.up:
                log.info("database reachable")
            self.up, self.last_error, self.changed_at = True, None, time.monotonic()
            return True

    def _set_down(self, detail: str, reason: str | None = None) -> None:
        if self.up:
            log.warning("database unreachable: %s", detail)
        self.up, self.last_error, self.changed_at = False, detail, time.monotonic()
        self.reason = reason or self.unreachable()

    async def mark_down(self, detail: str, reason: str | None = None) -> None:
        self._set_down(detail, reason)
        pool, self.pool = self.pool, None
        if pool is not None:
            with contextlib.suppress(Exception):
                await pool.close(timeout=0.5)

    def _busy(self, exc: BaseException, timeout: float) -> DatabaseBusy:
        if isinstance(exc, PoolTimeout):
            why = f"no connection was free within {timeout:g} s"
        elif isinstance(exc, pg_errors.LockNotAvailable):
            why = f"a lock was not granted within {self.lock_timeout_s or 0:g} s"
        else:
            why = f"a statement did not finish within {self.statement_timeout_s or 0:g} s"
        return DatabaseBusy(f'the database "{self.name}" is busy ({why}); nothing was written, retry shortly')

    @contextlib.asynccontextmanager
    async def connection(self, timeout: float | None = None) -> AsyncIterator[psycopg.AsyncConnection]:
        """A pooled connection in a transaction; raises DatabaseUnavailable when the database is down
        and DatabaseBusy when no connection is free in time or a lock or statement times out (the
        transaction is rolled back; the pool stays)."""
        timeout = self.pool_wait_s if timeout is None else timeout
        pool = self.pool
        if not self.up or pool is None:
            raise DatabaseUnavailable(self.reason)
        try:
            async with pool.connection(timeout=timeout) as conn:
                yield conn
        except PoolTimeout as exc:
            raise self._busy(exc, timeout) from exc
        except (pg_errors.LockNotAvailable, pg_errors.QueryCanceled) as exc:
            # Raised by a healthy connection (rolled back and returned to the pool by now).
            raise self._busy(exc, timeout) from exc
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            await self.mark_down(_describe(exc), self.unreachable(exc))
            raise DatabaseUnavailable(self.reason) from exc

    async def probe(self) -> bool:
        """Whether a connection of its own reaches the database (at most every PROBE_EVERY_S; True in
        between): what tells "busy" from "down" when the pool cannot hand out connections."""
        now = time.monotonic()
        if now - self._probed_at < PROBE_EVERY_S:
            return True
        self._probed_at = now
        try:
            info = await asyncio.to_thread(self._conninfo)
            conn = await psycopg.AsyncConnection.connect(info, autocommit=True)
            await conn.close()
            return True
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            await self.mark_down(_describe(exc), self.unreachable(exc))
            return False

    async def ping(self, timeout: float = 1.0) -> str | None:
        """None when a query round-trip works, else why not (for clients: no paths)."""
        try:
            async with asyncio.timeout(timeout):
                async with self.connection(timeout=timeout) as conn:
                    await conn.execute("select 1")
            return None
        except DatabaseUnavailable as exc:
            return str(exc)
        except TimeoutError:
            return f'the database "{self.name}" did not answer within {timeout:g} s'

    async def close(self) -> None:
        pool, self.pool = self.pool, None
        self.up = False
        if pool is not None:
            with contextlib.suppress(Exception):
                await pool.close(timeout=2)


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
