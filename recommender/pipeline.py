"""The evaluation and the final fit, independent of where the data comes from.

``run_evaluation``: validation split -> tuned parameters (tuning.py); test split -> one fit and
one evaluation per algorithm with those parameters. ``train`` fits the chosen algorithm on all
data and returns the model to save. recommender.training runs them on the warehouse (what
``shop evaluate`` and ``shop train`` do).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from recommender.algorithms import ALGORITHMS, BASELINES, COLLABORATIVE, DEFAULT, make
from recommender.evaluation import (
    Metrics,
    NotEnoughHistory,
    Split,
    SplitPoints,
    TruthFn,
    evaluate,
    split_points,
    temporal_split,
)
from recommender.matrix import Catalogue, Events, IdMap, Interactions, WeightConfig, build_data
from recommender.model import TrainedModel
from recommender.tuning import Progress, applicable, tune

EVALUATED = (*BASELINES, *COLLABORATIVE, "hybrid", "ranker")


@dataclass
class Result:
    algorithm: str
    params: dict[str, Any]
    validation: Metrics
    test: Metrics
    train_seconds: float

    def row(self, k: int) -> dict[str, Any]:
        t = self.test
        out = {
            "algorithm": self.algorithm,
            f"precision_at_{k}": round(t.precision, 6),
            f"recall_at_{k}": round(t.recall, 6),
            f"ndcg_at_{k}": round(t.ndcg, 6),
            f"map_at_{k}": round(t.map, 6),
            "coverage": round(t.coverage, 6),
            "train_seconds": round(self.train_seconds, 3),
        }
        if t.truth_ndcg is not None:
            out[f"truth_ndcg_at_{k}"] = round(t.truth_ndcg, 6)
        out[f"validation_ndcg_at_{k}"] = round(self.validation.ndcg, 6)
        return out


@dataclass
class Report:
    k: int
    results: list[Result]
    test_users: int
    validation_users: int
    windows: dict[str, str] = field(default_factory=dict)
    events: int = 0  # events the evaluation read (before the split)

    @property
    def best(self) -> Result:
        """The best algorithm on validation (the test split does not choose)."""
        return max(self.results, key=lambda r: r.validation.ndcg)

    def rows(self) -> list[dict[str, Any]]:
        return [r.row(self.k) for r in self.results]

    def result(self, algorithm: str) -> Result:
        return next(r for r in self.results if r.algorithm == algorithm)


def _iso(us: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(us / 1e6, timezone.utc).strftime("%Y-%m-%d %H:%M")


def run_evaluation(
    events: Events, catalogue: Catalogue, *, config: WeightConfig | None = None, k: int = 10,
    test_days: float = 14.0, validation_days: float = 14.0, algorithms: list[str] | None = None,
    truth: TruthFn | None = None, seed: int = 42, threads: int = 1, progress: Progress | None = None,
) -> Report:
    config = config or WeightConfig()
    say = progress or (lambda message: None)
    algorithms = list(algorithms or EVALUATED)
    for name in algorithms:
        if name not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {name!r}; choose from {', '.join(EVALUATED)}")
    points = split_points(events, test_days=test_days, validation_days=validation_days)
    items = IdMap.of(catalogue.product_id, events.product_id)
    validation = temporal_split("validation", events.occurred_before(points.test_cutoff_us), catalogue,
                                config, points.validation_cutoff_us, points.test_cutoff_us, items)
    test = temporal_split("test", events, catalogue, config, points.test_cutoff_us, points.end_us, items)
    if len(validation.eval_rows) == 0 or len(test.eval_rows) == 0:
        raise NotEnoughHistory("no user both has history and carts or buys in the validation/test window: "
                         "too little data to evaluate")
    algorithms = [a for a in algorithms if applicable(a, test.data.n_items)]
    tuned = tune(validation, algorithms, k=k, seed=seed, threads=threads, progress=say,
                 earlier=_earlier_split(events, catalogue, config, points, items) if "ranker" in algorithms else None)
    results = []
    for name in algorithms:
        say(f"test: {name}")
        model = make(name, **tuned[name].params)
        started = time.perf_counter()
        model.fit(test.data)
        seconds = time.perf_counter() - started
        results.append(Result(name, tuned[name].params, tuned[name].validation,
                              evaluate(test, model.score, k=k, truth=truth), seconds))
    return Report(k, results, len(test.eval_rows), len(validation.eval_rows), {
        "train_before": _iso(points.validation_cutoff_us),
        "validation": f"{_iso(points.validation_cutoff_us)} .. {_iso(points.test_cutoff_us)}",
        "test": f"{_iso(points.test_cutoff_us)} .. {_iso(points.end_us)}",
    }, events=len(events))


def _earlier_split(events: Events, catalogue: Catalogue, config: WeightConfig, points: SplitPoints,
                   items: IdMap) -> Split | None:
    """The window just before validation, as long as it, so that learned weights can be scored on
    validation out of sample; None when there is too little history before it."""
    length = points.test_cutoff_us - points.validation_cutoff_us
    cutoff = points.validation_cutoff_us - length
    if cutoff - int(events.occurred_us.min()) < length:
        return None
    split = temporal_split("earlier", events.occurred_before(points.validation_cutoff_us), catalogue, config,
                           cutoff, points.validation_cutoff_us, items)
    return split if len(split.eval_rows) else None


def default_params(algorithm: str, *, seed: int = 42, threads: int = 1) -> dict[str, Any]:
    if algorithm == "als":
        return {"seed": seed, "threads": threads}
    if algorithm == "item_knn":
        return {"threads": threads}
    if algorithm == "hybrid":
        return {"base_params": {"seed": seed, "threads": threads}}
    return {}


def train(
    interactions: Interactions, catalogue: Catalogue, *, algorithm: str = DEFAULT,
    params: dict[str, Any] | None = None, config: WeightConfig | None = None,
) -> tuple[TrainedModel, float]:
    """Fit ``algorithm`` on all ``interactions``; returns the model and the fit time in seconds."""
    data = build_data(interactions, catalogue, config or WeightConfig())
    if data.n_users == 0:
        raise ValueError("there are no interactions to train on")
    model = make(algorithm, **(params or {}))
    started = time.perf_counter()
    model.fit(data)
    seconds = time.perf_counter() - started
    return TrainedModel(model, data, card={}), seconds
