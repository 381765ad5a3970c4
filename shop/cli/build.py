"""`shop build`: build the warehouse (shop.dbt_runner.build) with a progress bar and a summary."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from shop import dbt_runner
from shopcore import db as shop_db

console = Console(highlight=False)


@contextmanager
def build_progress() -> Iterator[Callable[[dbt_runner.NodeProgress], None]]:
    """A live progress bar of a dbt build; yields the callback that advances it."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]dbt build[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("parsing the project", total=None)

        def on_progress(event: dbt_runner.NodeProgress) -> None:
            total = max(event.total or 0, event.index) or None
            progress.update(task, completed=event.index, total=total, description=f"{event.status} {event.name}")

        yield on_progress


def print_summary(result: dbt_runner.DbtResult) -> None:
    table = Table(title="warehouse build" + (" (failed)" if not result.success else ""), show_header=True)
    for column in ("models", "data tests", "unit tests", "warnings", "failed", "skipped", "time"):
        table.add_column(column, justify="right")
    table.add_row(
        str(result.models),
        str(result.data_tests),
        str(result.unit_tests),
        str(result.warning_count),
        str(len(result.failing)),
        str(len(result.skipped)),
        f"{result.elapsed:.1f}s",
    )
    console.print(table)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    for node in result.failing:
        console.print(f"[bold red]{node.status}:[/] {node.resource_type} [bold]{node.name}[/]: {node.message or ''}")
    if result.exception:
        console.print(f"[bold red]dbt stopped:[/] {result.exception}")
    if not result.success:
        logs = (result.target_dir.parent / "logs" / "dbt.log") if result.target_dir else None
        console.print(f"Details: {logs}" if logs else "", highlight=False)


def build(
    full_refresh: bool = typer.Option(
        False, "--full-refresh", help="Rebuild incremental models from scratch and test every row."
    ),
    test_all: bool = typer.Option(
        False, "--test-all",
        help="Build incrementally, but run every data test on every row (and the unit tests), as --full-refresh does.",
    ),
    select: list[str] = typer.Option(
        None, "--select", "-s",
        help="dbt selection, e.g. --select marts or --select +sales_summary; a test runs when every model it reads "
             "is selected or upstream of the selection.",
    ),
    freshness: bool = typer.Option(
        False, "--freshness", help="Then check every source's freshness against its thresholds (dbt source freshness)."
    ),
) -> None:
    """Build the warehouse: the products snapshot, every dbt model, then its data tests and unit tests."""
    env = shop_db.ready().env()
    with build_progress() as on_progress:
        result = dbt_runner.build(env, full_refresh=full_refresh, test_all=test_all, select=select or None,
                                  on_progress=on_progress)
    print_summary(result)
    if not result.success:
        names = ", ".join(result.failing_names) or "see the log above"
        console.print(f"[bold red]build failed:[/] {names}")
        raise typer.Exit(1)
    if freshness:
        check_freshness(env)


def check_freshness(env: dict[str, str]) -> None:
    """Print each source's freshness; exit 1 only when dbt could not check (a stale source is a finding)."""
    result = dbt_runner.source_freshness(env)
    if not result.success:
        console.print(f"[bold red]source freshness could not run:[/] {result.exception or ' '.join(result.errors)}")
        raise typer.Exit(1)
    table = Table(title="source freshness", show_header=True)
    for column in ("source", "status", "newest row"):
        table.add_column(column)
    colours = {"fresh": "green", "warn": "yellow", "error": "red"}
    for source, status, age in dbt_runner.freshness_summary():
        table.add_row(source, f"[{colours.get(status, 'white')}]{status}[/]", age if age == "no rows" else f"{age} ago")
    console.print(table)
