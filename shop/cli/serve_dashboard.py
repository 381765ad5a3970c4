"""`shop serve dashboard`: run the Streamlit dashboard (app/streamlit_app.py) on a port (default 8501).

The database is made ready first (the embedded server started when SHOP_DATABASE_URL is unset), so
the app finds it running; the app itself only reads marts and reports a database that goes away.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import typer
from rich.console import Console

from shop.errors import ShopError

console = Console(highlight=False)

APP_ENTRYPOINT = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"
DEFAULT_PORT = 8501


def streamlit_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The command that serves the dashboard; also used by the tests, benchmark and screenshot script."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_ENTRYPOINT),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        # No reload-on-save watcher: a served dashboard does not change under it (and it costs CPU).
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        # A viewer's dashboard: no "Deploy" button or developer menu entries.
        "--client.toolbarMode",
        "viewer",
    ]


def ensure_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers bind: connections of a server stopped a moment ago (TIME_WAIT) don't count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ShopError(
                f"Cannot listen on {host}:{port} ({exc.strerror}). Stop what uses it or choose another port with --port."
            ) from exc


def dashboard(
    port: int = typer.Option(DEFAULT_PORT, "--port", "-p", help="HTTP port."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 for all)."),
) -> None:
    """Serve the analytics dashboard (Streamlit). It reads the marts: run `shop build` first."""
    from shop import db

    if not APP_ENTRYPOINT.is_file():
        raise ShopError(f"{APP_ENTRYPOINT} is missing: the dashboard is not part of this install (check your clone).")
    db.ready()
    ensure_port_free(host, port)
    shown = "localhost" if host in ("0.0.0.0", "127.0.0.1") else host
    console.print(f"Dashboard: http://{shown}:{port}  (Ctrl-C stops)")
    command = streamlit_command(port, host)
    # Become Streamlit rather than wrap it: Ctrl-C and SIGTERM reach the server itself, and no
    # orphaned server outlives a `shop` process that was killed.
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)
