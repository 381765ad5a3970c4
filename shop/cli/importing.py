"""`shop import`: real shops' files into the raw tables (importer.run_import), with a progress bar
(rows/s) and a summary table."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shopcore import db as shop_db
from shopcore.settings import get_settings

console = Console(highlight=False)


class Format(str, Enum):
    auto = "auto"
    raw = "raw"
    rees46 = "rees46"
    retailrocket = "retailrocket"
    shopify_orders = "shopify-orders"


class RawTable(str, Enum):
    users = "users"
    products = "products"
    interactions = "interactions"


def import_files(
    files: Annotated[list[Path], typer.Argument(help="CSV (.csv, .csv.gz), Parquet or NDJSON files.")],
    source_format: Annotated[Format, typer.Option("--format", help="The files' layout; auto recognises each file by its header.")] = Format.auto,
    table: Annotated[RawTable | None, typer.Option("--table", help="For raw files whose name does not start with the table's name.")] = None,
    encoding: Annotated[str, typer.Option("--encoding", help="Text encoding of CSV and NDJSON files, e.g. latin-1 (a UTF-8 BOM is always accepted).")] = "utf-8",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and report; write nothing.")] = False,
    max_rejected: Annotated[str, typer.Option("--max-rejected", help="Rows that may fail validation before the whole import rolls back: a number (N) or a share (P%).")] = "0",
) -> None:
    """Import a real shop's events (and users, products) into the raw tables, in one transaction."""
    import importer

    limit = importer.RejectLimit.parse(max_rejected)
    info = shop_db.ready()
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=console, transient=False,
    ) as progress:
        tasks: dict[str, object] = {}
        started: dict[str, float] = {}

        def on_file(path: Path, role: tuple[str, str], total: int | None) -> None:
            console.print(f"{path}: {role[0]} {role[1]}")
            tasks[str(path)] = progress.add_task(path.name, total=total, rate="")
            started[str(path)] = progress.get_time()

        def on_progress(name: str, rows: int, total: int | None) -> None:
            elapsed = max(progress.get_time() - started[name], 1e-6)
            progress.update(tasks[name], completed=rows, total=total, rate=f"{rows / elapsed:,.0f} rows/s")

        try:
            result = importer.run_import(
                info, files, home=get_settings().home_dir, fmt=source_format.value,
                table=table.value if table else None, encoding=encoding, dry_run=dry_run, max_rejected=limit,
                on_file=on_file, on_progress=on_progress,
            )
        except importer.TooManyRejected as exc:
            progress.stop()
            print_summary(exc.result)
            raise
    print_summary(result)


def print_summary(result) -> None:
    files = Table(title="files", show_header=True)
    for column in ("file", "format", "holds", "rows", "rejected", "skipped"):
        files.add_column(column, justify="left" if column in ("file", "format", "holds") else "right")
    for report in result.files:
        files.add_row(str(report.path), report.role[0], report.role[1], f"{report.rows:,}", f"{report.rejected:,}",
                      f"{report.skipped:,}")
    console.print(files)
    if result.rejected or result.skipped:
        reasons = Table(title="rows not imported, by reason", show_header=True)
        reasons.add_column("reason")
        reasons.add_column("rows", justify="right")
        reasons.add_column("kind")
        reasons.add_column("example")
        for reason, count in result.rejected.most_common():
            reasons.add_row(reason, f"{count:,}", "rejected", (result.examples.get(reason) or [""])[0])
        for reason, count in result.skipped.most_common():
            reasons.add_row(reason, f"{count:,}", "skipped", "")
        console.print(reasons)
    verb = "would add" if result.dry_run else "added"
    if result.dry_run:
        console.print("[bold]Dry run:[/] nothing was written.")
    elif not result.committed:
        console.print("[bold red]Nothing was imported.[/]")
    rate = f" ({result.rows_read / result.seconds:,.0f} rows/s)" if result.seconds > 0 else ""
    console.print(
        f"{result.rows_read:,} rows read in {result.seconds:.1f} s{rate}: {verb} {result.events_new:,} new events, "
        f"{result.events_present:,} already present; {result.rows_rejected:,} rejected, {result.rows_skipped:,} skipped."
    )
    if not result.dry_run and result.committed:
        console.print(f"{result.users_new:,} new users, {result.products_new:,} new products. Import "
                      f"{result.import_id} (rejected rows: raw.rejected_rows). Next: `shop build`.")
