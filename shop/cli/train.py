"""`shop train`: fit the chosen (or the best on validation) algorithm on all data and save it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from shopcore import db as shop_db
from shopcore.errors import ShopError
from shopcore.settings import get_settings

console = Console(highlight=False)


def train(
    algorithm: Annotated[
        str, typer.Option(help="Algorithm to train, or 'auto' for the best on validation "
                               "(popularity, buy_again, user_knn, item_knn, als, ease, hybrid, ranker).")
    ] = "auto",
    evaluate_first: Annotated[
        bool, typer.Option("--evaluate/--no-evaluate",
                           help="Tune on a validation window and record test metrics in the model card.")
    ] = True,
    test_days: Annotated[float, typer.Option(min=0.5, max=365, help="Test window (days) of the evaluation.")] = 14.0,
    validation_days: Annotated[float, typer.Option(min=0.5, max=365, help="Validation window (days).")] = 14.0,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the randomised algorithms.")] = 42,
    threads: Annotated[int, typer.Option(min=1, max=64, help="Threads for implicit's models.")] = 2,
) -> None:
    """Train on everything in marts.user_item_interactions and save a model under SHOP_HOME/models."""
    from recommender import artifacts, data
    from recommender.algorithms import ALGORITHMS, DEFAULT
    from recommender.pipeline import default_params, run_evaluation
    from recommender.pipeline import train as fit_all
    from shop.cli.reporting import describe, limit_threads, report_table, status_printer

    if algorithm != "auto" and algorithm not in ALGORITHMS:
        raise typer.BadParameter(f"choose auto or one of {', '.join(sorted(ALGORITHMS))}", param_hint="--algorithm")
    if algorithm == "auto" and not evaluate_first:
        algorithm = DEFAULT
    limit_threads(threads)
    info = shop_db.ready()
    metrics: dict = {}
    with shop_db.connect(info) as conn:
        interactions = data.load_interactions(conn)
        catalogue = data.load_catalogue(conn)
        params = default_params(DEFAULT if algorithm == "auto" else algorithm, seed=seed, threads=threads)
        if evaluate_first:
            events = data.load_events(conn)
            say, stop = status_printer(console)
            try:
                report = run_evaluation(
                    events, catalogue, test_days=test_days, validation_days=validation_days,
                    algorithms=None if algorithm == "auto" else [algorithm],
                    truth=data.truth_loader(conn), seed=seed, threads=threads, progress=say)
            except ValueError as exc:
                raise ShopError(f"Cannot evaluate before training: {exc}. "
                                "Use --no-evaluate to train without an evaluation.") from exc
            finally:
                stop()
            console.print(report_table(report, "Offline evaluation"))
            console.print(describe(report))
            if algorithm != "auto" and algorithm not in [r.algorithm for r in report.results]:
                raise ShopError(f"{algorithm} does not apply to this catalogue ({len(catalogue.product_id):,} "
                                "products); pick another --algorithm.")
            chosen = report.best if algorithm == "auto" else report.result(algorithm)
            algorithm, params = chosen.algorithm, chosen.params
            metrics = {"k": report.k, "validation": chosen.validation.as_dict(), "test": chosen.test.as_dict(),
                       "windows": report.windows}
    console.print(f"Training {algorithm} on {len(interactions):,} user-product pairs ...")
    try:
        model, seconds = fit_all(interactions, catalogue, algorithm=algorithm, params=params)
    except ValueError as exc:
        raise ShopError(f"Cannot train {algorithm}: {exc}") from exc
    path = artifacts.save(model, get_settings().home_dir / "models", metrics=metrics, train_seconds=seconds)
    console.print(f"Saved {path} ({seconds:.1f} s to fit) and made it current; "
                  f"data watermark {model.card['data']['watermark']}.")
