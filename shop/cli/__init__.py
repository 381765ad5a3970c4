"""The `shop` command line: one Typer app, a module per command group."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from shop import quick_exit
from shopcore.errors import ShopError

app = typer.Typer(
    name="shop",
    help="Real-time e-commerce analytics and recommendations on PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True, soft_wrap=True)


def _register() -> None:
    from shop.cli import build, db, demo, evaluate, importing, metrics, serve, simulate, train

    app.add_typer(db.app, name="db")
    app.command("simulate")(simulate.simulate)
    app.command("import")(importing.import_files)
    app.command("build")(build.build)
    app.command("train")(train.train)
    app.command("evaluate")(evaluate.evaluate)
    app.add_typer(metrics.app, name="metrics")
    app.add_typer(serve.app, name="serve")
    app.command("demo")(demo.demo)


_register()


def main() -> None:
    # A finished command ends without the interpreter's teardown of dbt's modules (shop/quick_exit.py).
    quick_exit.exit_after(_run)


def _run() -> None:
    try:
        app()
    except ShopError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)
