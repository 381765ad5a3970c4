"""`shop train`: fit the chosen (or the best on validation) algorithm on all data and save it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from shop.cli.windows import Protocol, ProtocolOption, TestDays, ValidationDays, check_windows
from shopcore import db as shop_db
from shopcore.settings import get_settings

console = Console(highlight=False)


def train(
    algorithm: Annotated[
        str, typer.Option(help="Algorithm to train, or 'auto': the best on validation, or a simpler one it "
                               "does not beat beyond the noise (popularity, buy_again, user_knn, item_knn, als, ease, hybrid, ranker).")
    ] = "auto",
    evaluate_first: Annotated[
        bool, typer.Option("--evaluate/--no-evaluate",
                           help="Tune on a validation window and record test metrics in the model card.")
    ] = True,
    test_days: TestDays = None,
    validation_days: ValidationDays = None,
    protocol: ProtocolOption = Protocol.temporal,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the randomised algorithms.")] = 42,
    threads: Annotated[int, typer.Option(min=1, max=64, help="Threads for implicit's models.")] = 2,
) -> None:
    """Train on everything in marts.user_item_interactions and save a model under SHOP_HOME/models."""
    from recommender.algorithms import ALGORITHMS
    from recommender.training import AUTO, TrainOptions, train_and_save
    from shop.cli.reporting import TrainingReport

    if algorithm != AUTO and algorithm not in ALGORITHMS:
        raise typer.BadParameter(f"choose auto or one of {', '.join(sorted(ALGORITHMS))}", param_hint="--algorithm")
    check_windows(test_days, validation_days, protocol)
    options = TrainOptions(algorithm=algorithm, evaluate=evaluate_first, test_days=test_days,
                           validation_days=validation_days, protocol=protocol.value, seed=seed, threads=threads)
    shown = TrainingReport(console)
    outcome = train_and_save(shop_db.ready(), get_settings().home_dir, options, shown)
    shown.saved(outcome)
