"""Which database the project uses, how to connect to it, and making it ready (server up, schema migrated).

When SHOP_DATABASE_URL is unset the embedded server under SHOP_HOME is started on demand; when it is
set, that server is used as it is. Nothing else changes between the two.
"""

from __future__ import annotations

import dataclasses
import getpass
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

import psycopg
from psycopg import conninfo as pg_conninfo

from shopcore import embedded
from shopcore.errors import ShopError
from shopcore.settings import Settings, get_settings

CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class ConnectionInfo:
    host: str
    port: int
    user: str
    dbname: str
    password: str | None = None
    embedded: bool = False

    def conninfo(self, **overrides: object) -> str:
        params: dict[str, object] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": self.dbname,
            "connect_timeout": CONNECT_TIMEOUT_S,
            "application_name": "shop",
        }
        if self.password:
            params["password"] = self.password
        params.update(overrides)
        return pg_conninfo.make_conninfo(**{k: str(v) for k, v in params.items()})

    def url(self, *, hide_password: bool = False) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + ("***" if hide_password else quote(self.password, safe=""))
        if self.host.startswith("/"):  # a Unix socket directory goes in the query string
            return f"postgresql://{auth}@/{quote(self.dbname, safe='')}?host={quote(self.host)}&port={self.port}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{quote(self.dbname, safe='')}"

    def describe(self) -> str:
        """Names the database for messages that others may read (API health, 503 bodies): no socket
        path, no SHOP_HOME, no user or password."""
        if self.embedded:
            return f"the embedded PostgreSQL (database {self.dbname!r})"
        if self.host.startswith("/"):
            return f"PostgreSQL database {self.dbname!r} on a local socket"
        return f"PostgreSQL database {self.dbname!r} at {self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """libpq environment variables: what plain psql, dbt (profiles.example.yml) and the apps read."""
        values = {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGDATABASE": self.dbname,
        }
        if self.password:
            values["PGPASSWORD"] = self.password
        return values

    @classmethod
    def from_env(cls, values: Mapping[str, str]) -> ConnectionInfo:
        """The inverse of env(): the connection that libpq variables describe (as dbt is given them)."""
        missing = [key for key in ("PGHOST", "PGUSER", "PGDATABASE") if not values.get(key)]
        if missing:
            raise ShopError(f"No database connection: {', '.join(missing)} not set.")
        return cls(host=values["PGHOST"], port=int(values.get("PGPORT") or 5432), user=values["PGUSER"],
                   dbname=values["PGDATABASE"], password=values.get("PGPASSWORD") or None)


def parse_database_url(url: str) -> ConnectionInfo:
    """Turn SHOP_DATABASE_URL into connection fields, with a clear error when it is not a PostgreSQL URL."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise ShopError(
            f"SHOP_DATABASE_URL must start with postgresql:// (got {url.split('://')[0]!r}://...). "
            "Example: postgresql://user:password@localhost:5432/shop"
        )
    try:
        params = pg_conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ShopError(f"SHOP_DATABASE_URL is not a valid PostgreSQL URL: {exc}") from exc
    try:
        port = int(params.get("port") or 5432)
    except ValueError as exc:
        raise ShopError(f"SHOP_DATABASE_URL has a port that is not a number: {params.get('port')!r}") from exc
    user = str(params.get("user") or getpass.getuser())
    return ConnectionInfo(
        host=str(params.get("host") or "localhost"),
        port=port,
        user=user,
        dbname=str(params.get("dbname") or user),
        password=str(params["password"]) if params.get("password") else None,
    )


def embedded_connection_info(settings: Settings, status: embedded.EmbeddedStatus) -> ConnectionInfo:
    return ConnectionInfo(
        host=str(status.socket_dir),
        port=status.port or 5432,
        user=embedded.SUPERUSER,
        dbname=settings.database_name,
        embedded=True,
    )


def connect(info: ConnectionInfo, *, autocommit: bool = False, **kwargs: object) -> psycopg.Connection:
    try:
        return psycopg.connect(info.conninfo(), autocommit=autocommit, **kwargs)
    except psycopg.OperationalError as exc:
        raise _unreachable(info, exc) from exc


def _unreachable(info: ConnectionInfo, exc: psycopg.OperationalError) -> ShopError:
    """The user's message for a server that refused a connection or went away in the middle of one."""
    where = "the embedded server" if info.embedded else info.url(hide_password=True)
    hint = (
        "Run `shop db status`, or `shop db start`."
        if info.embedded
        else "Check that the server is running and that SHOP_DATABASE_URL is right "
        "(unset it to use the embedded server)."
    )
    return ShopError(f"Cannot connect to {where}: {str(exc).strip()}. {hint}")


def _ensure_embedded_database(info: ConnectionInfo) -> None:
    maintenance = dataclasses.replace(info, dbname="postgres")
    try:
        with connect(maintenance, autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (info.dbname,)).fetchone()
            if not exists:
                try:
                    conn.execute(psycopg.sql.SQL("create database {}").format(psycopg.sql.Identifier(info.dbname)))
                except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                    pass  # another process (a concurrent `shop db start`) created it between our check and now
    except psycopg.OperationalError as exc:  # the server went away mid-way (a concurrent `shop db stop`)
        raise _unreachable(maintenance, exc) from exc


def resolve(settings: Settings | None = None, *, start: bool = True) -> ConnectionInfo:
    """The database in use; starts the embedded server when needed unless start=False."""
    settings = settings or get_settings()
    if settings.database_url is not None:
        return parse_database_url(settings.database_url)
    home = settings.home_dir
    status = embedded.start(home) if start else embedded.status(home)
    if not status.running:
        raise ShopError(f"The embedded PostgreSQL under {home} is not running. Start it with `shop db start`.")
    info = embedded_connection_info(settings, status)
    _ensure_embedded_database(info)
    return info


def ready(settings: Settings | None = None) -> ConnectionInfo:
    """The database in use, reachable and migrated to the newest raw schema."""
    from shopcore.migrate import apply_migrations

    info = resolve(settings)
    try:
        with connect(info) as conn:
            apply_migrations(conn)
    except psycopg.OperationalError as exc:  # the server went away mid-way (a concurrent `shop db stop`)
        raise _unreachable(info, exc) from exc
    return info
