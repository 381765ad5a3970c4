"""`shop evaluate`: the offline evaluation table of every algorithm on a temporal split."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from shopcore import db as shop_db

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def evaluate(
    k: Annotated[int, typer.Option(min=1, max=1000, help="Length of the ranked lists (metrics @k).")] = 10,
    test_days: Annotated[float, typer.Option(min=0.5, max=365, help="Days at the end held out as the test window.")] = 14.0,
    validation_days: Annotated[float, typer.Option(min=0.5, max=365, help="Days before the test window used to tune.")] = 14.0,
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

    options = EvaluateOptions(k=k, test_days=test_days, validation_days=validation_days, algorithms=algorithm,
                              seed=seed, threads=threads)
    report = evaluate_shop(shop_db.ready(), options, EvaluationSpinner(err_console if as_json else console))
    if as_json:
        typer.echo(json.dumps(report.rows(), indent=2))
        return
    console.print(report_table(report, f"Offline evaluation, {report.events:,} events"))
    console.print(describe(report))
