"""Hyper-parameters chosen before the test window, and each candidate's validation score out of sample.

Every candidate is scored on validation with parameters it chose without seeing validation: the
grids, the hybrid's base and blend weights and the ranker's learned weights are all selected on
``earlier``, the window before validation, as long as it (pipeline.py cuts it), and the selection is
then scored once on validation. So the choice rule (choice.py) compares like with like: a grid of
600 blends picked on the very window it is scored on would look better than it is, against a ranker
scored out of sample. What each candidate keeps for the test fit and the final model is selected
again on validation, the newest labels before the test window (the same procedure, one window
later). With too little history for an earlier window, or an earlier window of fewer users than
every window's minimum (pipeline.py decides, and the report warns), everything is selected and
scored on validation, in-sample for every candidate alike, and ``Tuned.out_of_sample`` says so.

Each algorithm has a small grid; the hybrid's base is the best collaborative model of the window it
is tuned on, and its blend weights are tuned on that base's scores, computed once. The ranker's
weights are learned by maximum likelihood (ranker.fit_weights).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recommender.algorithms import COLLABORATIVE, make
from recommender.algorithms.factorization import EASE
from recommender.algorithms.hybrid import History, blend
from recommender.algorithms.ranker import fit_weights
from recommender.evaluation import Metrics, Split, evaluate, evaluate_many
from recommender.matrix import UserRows

GRIDS: dict[str, list[dict[str, Any]]] = {
    "popularity": [{}],
    "buy_again": [{}],
    "user_knn": [{"neighbours": k} for k in (50, 200)],
    "item_knn": [{"neighbours": k, "similarity": s} for k in (50, 200) for s in ("cosine", "bm25")],
    "als": [{"factors": f, "regularization": r, "alpha": a}
            for f in (32, 64) for r, a in ((0.05, 4.0), (1.0, 20.0))],
    "ease": [{"l2": lam} for lam in (50.0, 200.0, 800.0)],
}
HYBRID_GRID = {
    "seen_weight": (0.0, 0.25, 0.5, 1.0),
    "rebuy_weight": (0.0, 1.0, 2.0, 4.0, 8.0),
    "keep_cf": (0.0, 0.5, 1.0),
    "use_recency": (True, False),
    "due_weight": (0.0, 4.0, 8.0, 16.0, 32.0),
}
HYBRID_BASES = (*COLLABORATIVE, "user_knn")

Progress = Callable[[str], None]


@dataclass
class Tuned:
    algorithm: str
    params: dict[str, Any]  # kept: selected on validation, for the test fit and the final model
    validation: Metrics  # of ``scored_params`` on validation
    tried: list[tuple[dict[str, Any], float]] = field(default_factory=list)  # (params, NDCG@k) on validation
    scored_params: dict[str, Any] = field(default_factory=dict)  # selected without validation when out_of_sample
    out_of_sample: bool = False


@dataclass
class _Selection:
    """One algorithm's parameters selected on one split: the best, and every one tried there."""

    algorithm: str
    params: dict[str, Any]
    metrics: Metrics | None  # None: not scored on the split (the ranker, whose weights were learned on it)
    tried: list[tuple[dict[str, Any], Metrics]]

    def metrics_of(self, params: dict[str, Any]) -> Metrics | None:
        return next((m for p, m in self.tried if p == params), None)


def applicable(name: str, n_items: int) -> bool:
    return name != "ease" or EASE.applicable(n_items)


def tune(
    validation: Split, algorithms: list[str], *, k: int = 10, seed: int = 42, threads: int = 1,
    progress: Progress | None = None, earlier: Split | None = None,
) -> dict[str, Tuned]:
    """Each algorithm's parameters and its NDCG@k on ``validation``, of parameters selected on
    ``earlier`` (a split before validation) when there is one, else on validation itself."""
    say = progress or (lambda message: None)
    algorithms = [a for a in algorithms if applicable(a, validation.data.n_items)]
    kept = _select(validation, algorithms, k=k, seed=seed, threads=threads, say=say)
    if earlier is None:  # too little history before validation: in-sample, for every candidate alike
        return {name: Tuned(name, s.params, s.metrics or _score(validation, name, s.params, k=k), _ndcgs(s),
                            s.params, out_of_sample=False) for name, s in kept.items()}
    chosen_before = _select(earlier, algorithms, k=k, seed=seed, threads=threads, say=say)
    out: dict[str, Tuned] = {}
    for name, before in chosen_before.items():
        metrics = kept[name].metrics_of(before.params)
        if metrics is None:  # not among what validation tried (the ranker's weights, another hybrid base)
            say(f"validation: {name} as selected on the window before")
            metrics = _score(validation, name, before.params, k=k)
        out[name] = Tuned(name, kept[name].params, metrics, _ndcgs(kept[name]), before.params, out_of_sample=True)
    return out


def _score(split: Split, name: str, params: dict[str, Any], *, k: int) -> Metrics:
    return evaluate(split, make(name, **params).fit(split.data).score, k=k)


def _ndcgs(selection: _Selection) -> list[tuple[dict[str, Any], float]]:
    return [(params, m.ndcg) for params, m in selection.tried]


def _select(
    split: Split, algorithms: list[str], *, k: int, seed: int, threads: int, say: Progress,
) -> dict[str, _Selection]:
    """The best parameters of each algorithm by NDCG@k on ``split`` (fitted on its training data)."""
    fixed = {"als": {"seed": seed, "threads": threads}, "item_knn": {"threads": threads}}
    out: dict[str, _Selection] = {}
    for name in [a for a in algorithms if a not in ("hybrid", "ranker")]:
        tried = []
        for params in GRIDS.get(name, [{}]):
            full = {**params, **fixed.get(name, {})}
            say(f"{split.name}: {name} {params}")
            tried.append((full, _score(split, name, full, k=k)))
        best = max(range(len(tried)), key=lambda i: (tried[i][1].ndcg, -i))
        out[name] = _Selection(name, tried[best][0], tried[best][1], tried)
    if "hybrid" in algorithms:
        out["hybrid"] = _select_hybrid(split, out, k=k, seed=seed, threads=threads, say=say)
    if "ranker" in algorithms:
        say(f"{split.name}: ranker (weights learned on its window)")
        out["ranker"] = _Selection("ranker", _learn(split, dict(make("ranker").params)), None, [])
    return out


def _learn(split: Split, params: dict[str, Any]) -> dict[str, Any]:
    model = make("ranker", **params).fit(split.data)
    return {**params, **fit_weights(model, split.data.rows(split.eval_rows), split.positives)}


def _select_hybrid(
    split: Split, selected: dict[str, _Selection], *, k: int, seed: int, threads: int, say: Progress,
) -> _Selection:
    candidates = [t for name, t in selected.items() if name in HYBRID_BASES]
    if not candidates:  # tuned alone: use the default base
        defaults = make("hybrid").params
        base_name, base_params = defaults["base"], {"seed": seed, "threads": threads}
    else:
        top = max(candidates, key=lambda t: t.metrics.ndcg if t.metrics else 0.0)
        base_name, base_params = top.algorithm, top.params
    say(f"{split.name}: hybrid on {base_name}")
    # One hybrid fit gives the base scores and the learned re-buy statistics; the blend weights
    # are then tried on those (due-ness computed once per batch of users).
    hybrid = make("hybrid", base=base_name, base_params=base_params).fit(split.data)
    grid = [dict(zip(HYBRID_GRID, values)) for values in itertools.product(*HYBRID_GRID.values())]

    def scorer(rows: UserRows) -> tuple[np.ndarray, History, np.ndarray]:
        return hybrid.base.score(rows), History.of(rows), hybrid.due(rows)

    variants = [
        (lambda scored, rows, g=g: blend(scored[0], scored[1], hybrid.propensity, due=scored[2], **g)) for g in grid
    ]
    results = evaluate_many(split, scorer, variants, k=k)
    tried = [({"base": base_name, "base_params": base_params, **g}, m) for g, m in zip(grid, results)]
    best = max(range(len(grid)), key=lambda i: (results[i].ndcg, -i))
    return _Selection("hybrid", tried[best][0], results[best], tried)
