"""`shop metrics list|query`: the semantic layer's metrics (dbt YAML, planned by MetricFlow) from the shell."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from shop import dbt_runner
from shopcore import db as shop_db
from shopcore import semantic

app = typer.Typer(help="The shop's metrics, defined once in the dbt project's semantic layer.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _layer(env: dict[str, str]) -> semantic.SemanticLayer:
    # The manifest follows the project's YAML: a changed metric is re-parsed before it is used.
    dbt_runner.ensure_semantic_manifest(env, locked=True)
    return semantic.SemanticLayer.load()


@app.command("list")
def list_metrics() -> None:
    """Every metric with its label and definition."""
    layer = _layer(shop_db.ready().env())
    table = Table(show_header=True)
    for column in ("metric", "label", "type", "definition", "description"):
        table.add_column(column)
    for metric in layer.metrics():
        table.add_row(metric.name, metric.label, metric.type, metric.definition, metric.description)
    console.print(table)
    console.print(f"Saved queries: {', '.join(layer.saved_queries())}")


@app.command()
def query(
    metrics: list[str] = typer.Option(None, "--metrics", "-m", help="Metric names, e.g. revenue,orders."),
    group_by: list[str] = typer.Option(
        None, "--group-by", "-g", help="Dimensions, e.g. metric_time__week or order_line__category."
    ),
    where: list[str] = typer.Option(
        None, "--where", help="A MetricFlow filter, e.g. \"{{ TimeDimension('metric_time', 'day') }} >= '2026-01-01'\"."
    ),
    order_by: list[str] = typer.Option(None, "--order-by", help="Metrics or group-bys; a leading - sorts descending."),
    saved_query: str = typer.Option(None, "--saved-query", help="A saved query of the project (see `shop metrics list`)."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, csv or json."),
    show_sql: bool = typer.Option(False, "--sql", help="Print the SQL MetricFlow planned instead of running it."),
) -> None:
    """Compute metrics through the semantic layer and print them."""
    info = shop_db.ready()
    layer = _layer(info.env())
    request = semantic.MetricQuery(
        metrics=semantic.parse_list(metrics or []),
        group_by=semantic.parse_list(group_by or []),
        where=tuple(where or ()),
        order_by=semantic.parse_list(order_by or []),
        saved_query=saved_query,
    )
    if show_sql:
        console.print(layer.sql(request), markup=False)
        return
    with shop_db.connect(info) as conn:
        # A filter is SQL the user wrote: it runs in a transaction that cannot write.
        conn.execute("set transaction read only")
        conn.execute("set timezone = 'UTC'")  # metric_time's days are UTC days, as in the warehouse
        columns, rows = layer.run(conn, request)
    print_rows(columns, rows, output)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date().isoformat()  # metric_time by day, week, month: a date
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def print_rows(columns: list[str], rows: list[tuple], output: OutputFormat) -> None:
    if output is OutputFormat.json:
        typer.echo(json.dumps([{c: _plain(v) for c, v in zip(columns, row)} for row in rows], indent=2))
    elif output is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_plain(v) for v in row] for row in rows])
        typer.echo(buffer.getvalue(), nl=False)
    else:
        table = Table(show_header=True)
        for column in columns:
            table.add_column(column, justify="left" if column.startswith("metric_time") else "right")
        for row in rows:
            table.add_row(*("" if v is None else str(_plain(v)) for v in row))
        console.print(table)
