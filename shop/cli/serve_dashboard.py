"""`shop serve dashboard`: run the Streamlit dashboard (app/streamlit_app.py) on a port (default 8501).

The database is made ready first (the embedded server started when SHOP_DATABASE_URL is unset), so
the app finds it running; the app itself only reads marts and reports a database that goes away.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from app.launch import APP_ENTRYPOINT, DEFAULT_PORT, streamlit_command
from shop.ports import ensure_port_free
from shopcore.errors import ShopError

console = Console(highlight=False)


def dashboard(
    port: int = typer.Option(DEFAULT_PORT, "--port", "-p", help="HTTP port."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 for all)."),
) -> None:
    """Serve the analytics dashboard (Streamlit). It reads the marts: run `shop build` first."""
    from shopcore import db

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
