"""What `shop evaluate` and `shop train` do: read the warehouse, evaluate, fit, save.

Plain functions over a database connection and a models directory. They report as they go
through a TrainingObserver (the command line draws a spinner and tables from it) and fail with
ShopError, whose message says what to do; NotEnoughHistory, when the history is too short for an
evaluation, so that a caller can train without one instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from recommender import artifacts, data
from recommender.algorithms import DEFAULT
from recommender.evaluation import NotEnoughHistory
from recommender.pipeline import Report, default_params, run_evaluation
from recommender.pipeline import train as fit_all
from shopcore import db as shop_db
from shopcore import home_lock
from shopcore.errors import ShopError

AUTO = "auto"  # the choice rule's pick on validation (recommender.choice)


class TrainingObserver:
    """What an evaluation or a training run reports while it works; by default nothing is shown."""

    def progress(self, message: str) -> None:
        """The evaluation's current step (starts with "evaluating")."""

    def evaluation_ended(self) -> None:
        """The evaluation stopped, complete or failed (before `evaluated` or before the error)."""

    def evaluated(self, report: Report) -> None:
        """The evaluation is complete; training may still stop if the algorithm does not apply."""

    def fitting(self, algorithm: str, pairs: int) -> None:
        """The final fit on all `pairs` user-product pairs starts."""


@dataclass(frozen=True)
class EvaluateOptions:
    k: int = 10
    test_days: float | None = None  # None (with validation_days None): windows sized by the data
    validation_days: float | None = None
    protocol: str = "temporal"  # or "last-basket" (recommender.windows)
    algorithms: list[str] | None = None  # None: every evaluated algorithm
    seed: int = 42
    threads: int = 2


@dataclass(frozen=True)
class TrainOptions:
    algorithm: str = AUTO
    evaluate: bool = True  # tune on validation and record test metrics in the model card
    test_days: float | None = None
    validation_days: float | None = None
    protocol: str = "temporal"
    seed: int = 42
    threads: int = 2


@dataclass(frozen=True)
class TrainOutcome:
    algorithm: str
    path: Path  # the saved artifact, now the current model
    fit_seconds: float
    watermark: str  # newest data the model saw
    report: Report | None  # the evaluation, unless trained without one


def single_threaded_blas() -> None:
    """implicit asks for single-threaded BLAS (its own threads do the parallel work)."""
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, "blas")


def _cannot_evaluate(exc: ValueError, message: str) -> ShopError:
    # Same message either way; too little history keeps its type so that callers can fall back.
    return NotEnoughHistory(message) if isinstance(exc, NotEnoughHistory) else ShopError(message)


def evaluate_shop(
    info: shop_db.ConnectionInfo, options: EvaluateOptions, observer: TrainingObserver | None = None
) -> Report:
    """Tune every algorithm (or options.algorithms) on a validation window, score each on the test window."""
    observer = observer or TrainingObserver()
    single_threaded_blas()
    with shop_db.connect(info) as conn:
        events = data.load_events(conn)
        catalogue = data.load_catalogue(conn)
        truth = data.truth_loader(conn)
        observer.progress("evaluating")
        try:
            report = run_evaluation(
                events, catalogue, k=options.k, test_days=options.test_days,
                validation_days=options.validation_days, protocol=options.protocol,
                algorithms=options.algorithms, truth=truth,
                seed=options.seed, threads=options.threads, progress=observer.progress)
        except ValueError as exc:
            raise _cannot_evaluate(exc, f"Cannot evaluate: {exc}.") from exc
        finally:
            observer.evaluation_ended()
    observer.evaluated(report)
    return report


def train_and_save(
    info: shop_db.ConnectionInfo, home: Path, options: TrainOptions, observer: TrainingObserver | None = None
) -> TrainOutcome:
    """Fit the chosen algorithm (AUTO: recommender.choice's pick on validation) on all of
    marts.user_item_interactions and save it under SHOP_HOME/models as the current model. Holds the
    home's work lock (one build, train or import at a time), waiting for the current holder if any."""
    with home_lock.hold(home, "train"):
        return _train_and_save(info, Path(home) / "models", options, observer or TrainingObserver())


def _train_and_save(
    info: shop_db.ConnectionInfo, models_dir: Path, options: TrainOptions, observer: TrainingObserver
) -> TrainOutcome:
    algorithm = options.algorithm
    if algorithm == AUTO and not options.evaluate:
        algorithm = DEFAULT
    single_threaded_blas()
    metrics: dict = {}
    report = None
    with shop_db.connect(info) as conn:
        interactions = data.load_interactions(conn)
        catalogue = data.load_catalogue(conn)
        params = default_params(DEFAULT if algorithm == AUTO else algorithm, seed=options.seed,
                                threads=options.threads)
        if options.evaluate:
            events = data.load_events(conn)
            observer.progress("evaluating")
            try:
                report = run_evaluation(
                    events, catalogue, test_days=options.test_days, validation_days=options.validation_days,
                    protocol=options.protocol, algorithms=None if algorithm == AUTO else [algorithm],
                    truth=data.truth_loader(conn), seed=options.seed, threads=options.threads,
                    progress=observer.progress)
            except ValueError as exc:
                raise _cannot_evaluate(exc, f"Cannot evaluate before training: {exc}. "
                                            "Use --no-evaluate to train without an evaluation.") from exc
            finally:
                observer.evaluation_ended()
            observer.evaluated(report)
            if algorithm != AUTO and algorithm not in [r.algorithm for r in report.results]:
                raise ShopError(f"{algorithm} does not apply to this catalogue ({len(catalogue.product_id):,} "
                                "products); pick another --algorithm.")
            chosen = report.chosen if algorithm == AUTO else report.result(algorithm)
            algorithm, params = chosen.algorithm, chosen.params
            metrics = {"k": report.k, "validation": chosen.validation.as_dict(), "test": chosen.test.as_dict(),
                       "windows": report.windows, "protocol": report.protocol,
                       "test_users": report.test_users, "validation_users": report.validation_users,
                       "tuning_users": report.tuning_users,
                       "warnings": report.warnings}
            if report.choice is not None:
                metrics["choice"] = (report.choice.as_dict() if options.algorithm == AUTO else
                                     {"algorithm": algorithm, "reason": f"{algorithm} asked for with --algorithm"})
    observer.fitting(algorithm, len(interactions))
    try:
        model, seconds = fit_all(interactions, catalogue, algorithm=algorithm, params=params)
    except ValueError as exc:
        raise ShopError(f"Cannot train {algorithm}: {exc}") from exc
    path = artifacts.save(model, models_dir, metrics=metrics, train_seconds=seconds)
    return TrainOutcome(algorithm, path, seconds, model.card["data"]["watermark"], report)
