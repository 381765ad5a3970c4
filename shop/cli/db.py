"""`shop db ...`: the database's lifecycle and how other tools reach it."""

from __future__ import annotations

import os
import shlex
import shutil

import typer
from rich.console import Console

from shopcore import db as shop_db
from shopcore import embedded
from shopcore.errors import ShopError
from shopcore.settings import get_settings

app = typer.Typer(help="Start, stop and reach the database.", no_args_is_help=True)
console = Console(soft_wrap=True, highlight=False)


@app.command()
def start() -> None:
    """Start the embedded PostgreSQL (idempotent) and apply the schema migrations."""
    settings = get_settings()
    was_running = settings.uses_embedded_database and embedded.status(settings.home_dir).running
    with console.status("Starting the database and applying migrations..."):
        info = shop_db.ready(settings)
    if not settings.uses_embedded_database:
        console.print(f"Using the external database {info.url(hide_password=True)} (SHOP_DATABASE_URL); it is ready.")
    elif was_running:
        console.print(f"The embedded PostgreSQL is already running ({settings.home_dir / 'pgdata'}).")
    else:
        console.print(f"Started the embedded PostgreSQL ({settings.home_dir / 'pgdata'}).")


@app.command()
def stop() -> None:
    """Stop the embedded PostgreSQL cleanly."""
    settings = get_settings()
    if not settings.uses_embedded_database:
        raise ShopError("SHOP_DATABASE_URL is set: that server is not ours to stop.")
    if embedded.stop(settings.home_dir):
        console.print("Stopped the embedded PostgreSQL.")
    else:
        console.print("The embedded PostgreSQL was not running.")


@app.command()
def status() -> None:
    """Say whether the database is up, and where it is. Exit code 1 when it is not reachable."""
    settings = get_settings()
    if settings.uses_embedded_database:
        state = embedded.status(settings.home_dir)
        if not state.running:
            console.print(f"embedded PostgreSQL: [red]stopped[/] (data in {state.pgdata})")
            raise typer.Exit(1)
        info = shop_db.embedded_connection_info(settings, state)
        console.print(f"embedded PostgreSQL: [green]running[/] pid {state.pid}, data in {state.pgdata}")
    else:
        info = shop_db.parse_database_url(settings.database_url or "")
    with shop_db.connect(info) as conn:
        version = conn.execute("show server_version").fetchone()[0]
    console.print(f"database: {info.url(hide_password=True)} (PostgreSQL {version})", highlight=False)


@app.command()
def url() -> None:
    """Print the database URL (starting the embedded server if needed)."""
    typer.echo(shop_db.ready().url())


@app.command()
def env() -> None:
    """Print shell exports for psql, dbt and streamlit: eval "$(shop db env)"."""
    info = shop_db.ready()
    for key, value in info.env().items():
        typer.echo(f"export {key}={shlex.quote(value)}")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def psql(ctx: typer.Context) -> None:
    """Open psql on the database (extra arguments go to psql)."""
    info = shop_db.ready()
    executable = str(embedded.bin_dir() / "psql") if info.embedded else shutil.which("psql")
    if executable is None:
        raise ShopError("psql is not installed. Install the PostgreSQL client (e.g. apt-get install postgresql-client).")
    os.execve(executable, [executable, *ctx.args], {**os.environ, **info.env()})
