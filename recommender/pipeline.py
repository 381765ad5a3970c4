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
from recommender.choice import Choice, choose
from recommender.evaluation import (
    Metrics,
    NotEnoughHistory,
    Split,
    SplitPoints,
    TruthFn,
    evaluate,
    temporal_split,
)
from recommender.matrix import Catalogue, Events, IdMap, Interactions, WeightConfig, build_data
from recommender.model import TrainedModel
from recommender.tuning import Progress, applicable, tune
from recommender.uncertainty import Interval, PairedBootstrap
from recommender.windows import MIN_USERS, PROTOCOLS, last_basket_split, temporal_points

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
        for name, value in ((f"recall_rebuy_at_{k}", t.recall_rebuy), (f"recall_new_at_{k}", t.recall_new)):
            out[name] = None if value is None else round(value, 6)
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
    protocol: str = "temporal"
    choice: Choice | None = None  # what `auto` serves, and why
    # Paired bootstrap over the test users: each algorithm's NDCG@k, and its lead over the best
    # baseline (the baseline with the highest test NDCG@k).
    test_intervals: dict[str, Interval] = field(default_factory=dict)
    baseline: str | None = None
    lead_over_baseline: dict[str, Interval] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    tuning_users: int = 0  # users to evaluate in the window before validation (tuned there if at least min_users)

    @property
    def best(self) -> Result:
        """The best algorithm on validation (the test split does not choose)."""
        return max(self.results, key=lambda r: r.validation.ndcg)

    @property
    def chosen(self) -> Result:
        """What `auto` trains: the choice rule's pick (recommender.choice), else the best on validation."""
        return self.result(self.choice.algorithm) if self.choice else self.best

    def rows(self) -> list[dict[str, Any]]:
        rows = [r.row(self.k) for r in self.results]
        for row in rows:
            interval = self.test_intervals.get(row["algorithm"])
            if interval is not None:
                row[f"ndcg_at_{self.k}_low"] = round(interval.low, 6)
                row[f"ndcg_at_{self.k}_high"] = round(interval.high, 6)
            lead = self.lead_over_baseline.get(row["algorithm"])
            if lead is not None:
                row["lead_over_baseline"] = {"baseline": self.baseline, "estimate": round(lead.estimate, 6),
                                             "low": round(lead.low, 6), "high": round(lead.high, 6)}
            row["chosen"] = self.choice is not None and row["algorithm"] == self.choice.algorithm
        return rows

    def result(self, algorithm: str) -> Result:
        return next(r for r in self.results if r.algorithm == algorithm)


def _iso(us: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(us / 1e6, timezone.utc).strftime("%Y-%m-%d %H:%M")


def run_evaluation(
    events: Events, catalogue: Catalogue, *, config: WeightConfig | None = None, k: int = 10,
    test_days: float | None = None, validation_days: float | None = None, protocol: str = "temporal",
    min_users: int = MIN_USERS, algorithms: list[str] | None = None,
    truth: TruthFn | None = None, seed: int = 42, threads: int = 1, progress: Progress | None = None,
) -> Report:
    """Tune before validation, score on validation and on test. Windows: recommender.windows (sized by
    the data unless ``test_days`` and ``validation_days`` are given; ``protocol`` "last-basket" holds out
    baskets); ``min_users`` is every window's minimum of users to evaluate, the tuning window's too."""
    config = config or WeightConfig()
    say = progress or (lambda message: None)
    algorithms = list(algorithms or EVALUATED)
    for name in algorithms:
        if name not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {name!r}; choose from {', '.join(EVALUATED)}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    items = IdMap.of(catalogue.product_id, events.product_id)
    earlier: Split | None = None
    if protocol == "last-basket":
        if test_days is not None or validation_days is not None:
            raise ValueError("--test-days and --validation-days apply to the temporal protocol only")
        test, rest = last_basket_split("test", events, catalogue, config, items)
        validation, before = last_basket_split("validation", rest, catalogue, config, items)
        earlier = _earlier_basket_split(before, catalogue, config, items)
        windows = {"test": "each user's last basket", "validation": "the basket before it",
                   "train_before": "each user's held-out basket"}
    else:
        points, sized = temporal_points(events, test_days=test_days, validation_days=validation_days,
                                        min_users=min_users)
        validation = temporal_split("validation", events.occurred_before(points.test_cutoff_us), catalogue,
                                    config, points.validation_cutoff_us, points.test_cutoff_us, items)
        test = temporal_split("test", events, catalogue, config, points.test_cutoff_us, points.end_us, items)
        windows = {
            "train_before": _iso(points.validation_cutoff_us),
            "validation": f"{_iso(points.validation_cutoff_us)} .. {_iso(points.test_cutoff_us)}",
            "test": f"{_iso(points.test_cutoff_us)} .. {_iso(points.end_us)}",
            "sized_by": sized.sized_by,
        }
        if sized.sized_by == "data":
            windows["shares"] = f"validation {sized.validation_share:.0%}, test {sized.test_share:.0%} of the events"
        earlier = _earlier_split(events, catalogue, config, points, items)
    if len(validation.eval_rows) == 0 or len(test.eval_rows) == 0:
        raise NotEnoughHistory("no user both has history and carts or buys in the validation/test window: "
                         "too little data to evaluate")
    algorithms = [a for a in algorithms if applicable(a, test.data.n_items)]
    tuning = _tuning_window(earlier, protocol, min_users)
    tuned = tune(validation, algorithms, k=k, seed=seed, threads=threads, progress=say, earlier=tuning.split)
    windows["tuned_on"] = tuning.tuned_on
    results = []
    for name in algorithms:
        say(f"test: {name}")
        model = make(name, **tuned[name].params)
        started = time.perf_counter()
        model.fit(test.data)
        seconds = time.perf_counter() - started
        results.append(Result(name, tuned[name].params, tuned[name].validation,
                              evaluate(test, model.score, k=k, truth=truth), seconds))
    report = Report(k, results, len(test.eval_rows), len(validation.eval_rows), windows, events=len(events),
                    protocol=protocol, choice=choose(results, k=k, seed=seed), tuning_users=tuning.users)
    _add_intervals(report, min_users=min_users, seed=seed)
    if tuning.warning:
        report.warnings.append(tuning.warning)
    return report


@dataclass(frozen=True)
class TuningWindow:
    """Where parameters are selected: ``split`` (the window before validation), or validation
    itself when ``split`` is None; ``tuned_on`` and ``warning`` say which, for the report."""

    split: Split | None
    users: int  # users to evaluate in the window before validation (0: there is none)
    tuned_on: str
    warning: str | None = None


def _tuning_window(earlier: Split | None, protocol: str, min_users: int) -> TuningWindow:
    """The window before validation if it holds ``min_users`` users to evaluate (the minimum of every
    window, recommender.windows); else validation, in-sample for every candidate alike, said so."""
    if protocol == "last-basket":
        before, hold = "each user's basket before that", "the baskets before the validation baskets hold"
    else:
        before, hold = "the window before validation", "the window before validation holds"
    users = 0 if earlier is None else len(earlier.eval_rows)
    if earlier is not None and users >= min_users:
        return TuningWindow(earlier, users, f"{before} ({users:,} users; validation scores are out of sample)")
    why = (f"{hold} only {users:,} users to tune on, fewer than {min_users:,}" if earlier is not None
           else "too little history before it")
    return TuningWindow(None, users, f"validation ({why}: validation scores are in-sample)",
                        f"parameters were selected on validation itself ({why}): validation scores are in-sample, "
                        "which flatters the algorithms with more settings to pick from")


def _add_intervals(report: Report, *, min_users: int, seed: int) -> None:
    """Test intervals, leads over the best baseline, and warnings where the noise hides the order."""
    bootstrap = PairedBootstrap(report.test_users, seed=seed)
    by_name = {r.algorithm: r for r in report.results}
    report.test_intervals = {name: bootstrap.mean(r.test.per_user_ndcg) for name, r in by_name.items()}
    baselines = [by_name[name] for name in BASELINES if name in by_name]
    if baselines:
        baseline = max(baselines, key=lambda r: r.test.ndcg)
        report.baseline = baseline.algorithm
        report.lead_over_baseline = {
            name: bootstrap.difference(r.test.per_user_ndcg, baseline.test.per_user_ndcg)
            for name, r in by_name.items() if name != baseline.algorithm}
        chosen = report.chosen.algorithm
        lead = report.lead_over_baseline.get(chosen)
        if lead is not None and lead.contains(0.0):
            report.warnings.append(
                f"the test window cannot separate {chosen} from {baseline.algorithm} ({report.test_users:,} users; "
                f"lead {lead.estimate:+.4f}, 95% interval [{lead.low:+.4f}, {lead.high:+.4f}])")
    for window, users in (("test", report.test_users), ("validation", report.validation_users)):
        if users < min_users:
            report.warnings.append(f"the {window} window holds only {users:,} users to evaluate (fewer than "
                                   f"{min_users:,}): differences between algorithms are mostly noise")


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


def _earlier_basket_split(events: Events, catalogue: Catalogue, config: WeightConfig, items: IdMap) -> Split | None:
    """Each user's basket before their validation basket, for parameters selected out of sample;
    None when no user has one with history before it."""
    try:
        split, _ = last_basket_split("earlier", events, catalogue, config, items)
    except NotEnoughHistory:
        return None
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
