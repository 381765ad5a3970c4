"""The API's database connections: an async pool that is dropped when the server goes away and
rebuilt when it is back, so that handlers can tell "down" at once instead of waiting on timeouts.

Nothing here is module-level: the lifespan creates one ``Database`` per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from recommender.api.settings import ApiSettings
from shopcore import db as shop_db

log = logging.getLogger("shop.api")

CONNECT_TIMEOUT_S = 2
ACQUIRE_TIMEOUT_S = 3.0


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached right now; the message says what happened."""


def conninfo_provider(settings: ApiSettings) -> Callable[[], str]:
    """Connection string, re-resolved on every reconnect (an embedded server may come back elsewhere)."""
    shop_settings = settings.shop_settings()

    def conninfo() -> str:
        info = shop_db.resolve(shop_settings, start=False)
        return info.conninfo(connect_timeout=CONNECT_TIMEOUT_S, application_name="shop-api")

    return conninfo


class Database:
    def __init__(self, conninfo: Callable[[], str], *, max_size: int = 4) -> None:
        self._conninfo = conninfo
        self._max_size = max_size
        self.pool: AsyncConnectionPool | None = None
        self.up = False
        self.last_error: str | None = "not connected yet"
        self.changed_at = time.monotonic()
        self._lock = asyncio.Lock()

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
                self._set_down(_describe(exc))
                return False
            self.pool = pool
            if not self.up:
                log.info("database reachable")
            self.up, self.last_error, self.changed_at = True, None, time.monotonic()
            return True

    def _set_down(self, reason: str) -> None:
        if self.up:
            log.warning("database unreachable: %s", reason)
        self.up, self.last_error, self.changed_at = False, reason, time.monotonic()

    async def mark_down(self, reason: str) -> None:
        self._set_down(reason)
        pool, self.pool = self.pool, None
        if pool is not None:
            with contextlib.suppress(Exception):
                await pool.close(timeout=0.5)

    @contextlib.asynccontextmanager
    async def connection(self, timeout: float = ACQUIRE_TIMEOUT_S) -> AsyncIterator[psycopg.AsyncConnection]:
        """A pooled connection in a transaction; raises DatabaseUnavailable when the database is down."""
        pool = self.pool
        if not self.up or pool is None:
            raise DatabaseUnavailable(self.last_error or "the database is unreachable")
        try:
            async with pool.connection(timeout=timeout) as conn:
                yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
            reason = _describe(exc)
            await self.mark_down(reason)
            raise DatabaseUnavailable(reason) from exc

    async def ping(self, timeout: float = 1.0) -> str | None:
        """None when a query round-trip works, else why not."""
        try:
            async with asyncio.timeout(timeout):
                async with self.connection(timeout=timeout) as conn:
                    await conn.execute("select 1")
            return None
        except DatabaseUnavailable as exc:
            return str(exc)
        except TimeoutError:
            return f"no answer within {timeout:g} s"

    async def close(self) -> None:
        pool, self.pool = self.pool, None
        self.up = False
        if pool is not None:
            with contextlib.suppress(Exception):
                await pool.close(timeout=2)


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
