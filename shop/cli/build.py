"""`shop build`: build the warehouse (shop.dbt_runner.build) with a progress bar and a summary."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from shop import dbt_runner, stale_relations
from shopcore import db as shop_db
from shopcore import home_lock

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
    drop_stale: bool = typer.Option(
        False, "--drop-stale",
        help="Then drop the tables and views in the warehouse's schemas that no model of the project builds "
             "(left by an older version; a plain build names them).",
    ),
) -> None:
    """Build the warehouse: the products snapshot, every dbt model, then its data tests and unit tests."""
    info = shop_db.ready()
    env = info.env()
    # The check of stale relations under the build's lock: another build's relations in the making
    # (`__dbt_tmp`, `__dbt_backup`) are no model's either.
    with (home_lock.hold(dbt_runner.settings_home(None), "build"),
          stale_relations.captured_manifest() as captured):
        with build_progress() as on_progress:
            result = dbt_runner.build(env, full_refresh=full_refresh, test_all=test_all, select=select or None,
                                      on_progress=on_progress)
        print_summary(result)
        if not result.success:
            names = ", ".join(result.failing_names) or "see the log above"
            console.print(f"[bold red]build failed:[/] {names}")
            raise typer.Exit(1)
        report_stale(info, captured.project, drop=drop_stale)
    if freshness:
        check_freshness(env)


def report_stale(info: shop_db.ConnectionInfo, project: stale_relations.ProjectRelations | None, *,
                 drop: bool) -> None:
    """One line naming the relations no model of the project builds (after dropping them with `drop`)."""
    if project is None:
        return
    if project.adapter_type != "postgres":
        if drop:
            console.print(f"--drop-stale: the warehouse is on {project.adapter_type}, not in this database: "
                          "nothing was looked for.")
        return
    with shop_db.connect(info, autocommit=True) as conn:
        stale = stale_relations.find(conn, project)
        if stale and drop:
            stale_relations.drop(conn, stale)
    if not stale:
        if drop:
            console.print("--drop-stale: every table and view in the warehouse's schemas is a model's; nothing to drop.")
        return
    names = escape(", ".join(f"{relation} ({relation.kind})" for relation in stale))
    count = f"{len(stale)} relation{'s' if len(stale) != 1 else ''}"
    if drop:
        console.print(f"[bold]dropped[/] {count} that no model of the project builds: {names}", soft_wrap=True)
    else:
        console.print(f"[yellow]stale:[/] {count} in the warehouse's schemas that no model of the project builds "
                      f"(left by an older version): {names}. `shop build --drop-stale` drops {'them' if len(stale) > 1 else 'it'}.",
                      soft_wrap=True)


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
