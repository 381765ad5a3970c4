"""`shop evaluate`: the offline evaluation table of every algorithm on a temporal split."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from shopcore import db as shop_db
from shopcore.errors import ShopError

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
    from recommender import data
    from recommender.pipeline import run_evaluation
    from shop.cli.reporting import describe, limit_threads, report_table, status_printer

    limit_threads(threads)
    info = shop_db.ready()
    with shop_db.connect(info) as conn:
        events = data.load_events(conn)
        catalogue = data.load_catalogue(conn)
        truth = data.truth_loader(conn)
        out = err_console if as_json else console
        say, stop = status_printer(out)
        try:
            report = run_evaluation(events, catalogue, k=k, test_days=test_days, validation_days=validation_days,
                                    algorithms=algorithm, truth=truth, seed=seed, threads=threads, progress=say)
        except ValueError as exc:
            raise ShopError(f"Cannot evaluate: {exc}.") from exc
        finally:
            stop()
    if as_json:
        typer.echo(json.dumps(report.rows(), indent=2))
        return
    console.print(report_table(report, f"Offline evaluation, {len(events):,} events"))
    console.print(describe(report))
