"""`shop evaluate`: the offline evaluation table of every algorithm (windows: recommender.windows)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from shop.cli.windows import Protocol, ProtocolOption, TestDays, ValidationDays, check_windows
from shopcore import db as shop_db

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def evaluate(
    k: Annotated[int, typer.Option(min=1, max=1000, help="Length of the ranked lists (metrics @k).")] = 10,
    test_days: TestDays = None,
    validation_days: ValidationDays = None,
    protocol: ProtocolOption = Protocol.temporal,
    algorithm: Annotated[
        list[str] | None, typer.Option("--algorithm", "-a", help="Evaluate only these (repeatable). Default: all.")
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the randomised algorithms.")] = 42,
    threads: Annotated[int, typer.Option(min=1, max=64, help="Threads for implicit's models.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON (a list of objects).")] = False,
) -> None:
    """Tune every algorithm on a validation window, then score each once on the test window."""
    from recommender.training import EvaluateOptions, evaluate_shop
    from shop.cli.reporting import EvaluationSpinner, describe, report_table

    check_windows(test_days, validation_days, protocol)
    options = EvaluateOptions(k=k, test_days=test_days, validation_days=validation_days, protocol=protocol.value,
                              algorithms=algorithm, seed=seed, threads=threads)
    report = evaluate_shop(shop_db.ready(), options, EvaluationSpinner(err_console if as_json else console))
    if as_json:
        typer.echo(json.dumps(report.rows(), indent=2))
        return
    console.print(report_table(report, f"Offline evaluation, {report.events:,} events"))
    console.print(describe(report))
