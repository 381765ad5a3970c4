"""Hyper-parameters chosen on the validation split only (the test split is never looked at here).

Each algorithm has a small grid; the hybrid's base is the best collaborative model on
validation, and its blend weights are tuned on that base's scores, computed once. The ranker's
weights are learned (maximum likelihood) on the window before validation and scored on
validation, out of sample; the parameters it then keeps are re-learned on the validation
window, the newest labels before the test window.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recommender.algorithms import COLLABORATIVE, make
from recommender.algorithms.factorization import EASE
from recommender.algorithms.hybrid import blend
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
    params: dict[str, Any]
    validation: Metrics
    tried: list[tuple[dict[str, Any], float]] = field(default_factory=list)  # (params, NDCG@k)


def applicable(name: str, n_items: int) -> bool:
    return name != "ease" or EASE.applicable(n_items)


def tune(
    validation: Split, algorithms: list[str], *, k: int = 10, seed: int = 42, threads: int = 1,
    progress: Progress | None = None, earlier: Split | None = None,
) -> dict[str, Tuned]:
    """Best parameters of each algorithm (and of the hybrid) by NDCG@k on ``validation``;
    ``earlier`` (a split before validation) is where the ranker learns the weights it is scored with."""
    say = progress or (lambda message: None)
    fixed = {"als": {"seed": seed, "threads": threads}, "item_knn": {"threads": threads}}
    out: dict[str, Tuned] = {}
    for name in [a for a in algorithms if a not in ("hybrid", "ranker")]:
        if not applicable(name, validation.data.n_items):
            continue
        best: Tuned | None = None
        tried = []
        for params in GRIDS.get(name, [{}]):
            full = {**params, **fixed.get(name, {})}
            say(f"validation: {name} {params}")
            metrics = evaluate(validation, make(name, **full).fit(validation.data).score, k=k)
            tried.append((full, metrics.ndcg))
            if best is None or metrics.ndcg > best.validation.ndcg:
                best = Tuned(name, full, metrics)
        assert best is not None
        best.tried = tried
        out[name] = best
    if "hybrid" in algorithms:
        out["hybrid"] = _tune_hybrid(validation, out, k=k, seed=seed, threads=threads, say=say)
    if "ranker" in algorithms:
        out["ranker"] = _tune_ranker(validation, earlier, k=k, say=say)
    return out


def _learn(split: Split, params: dict[str, Any]) -> dict[str, Any]:
    model = make("ranker", **params).fit(split.data)
    return {**params, **fit_weights(model, split.data.rows(split.eval_rows), split.positives)}


def _tune_ranker(validation: Split, earlier: Split | None, *, k: int, say: Progress) -> Tuned:
    params = dict(make("ranker").params)
    if earlier is not None:
        say("validation: ranker (weights learned on the window before)")
        scored = _learn(earlier, params)
    else:  # too little history for an earlier window: in-sample, like the grids
        say("validation: ranker (weights learned on validation)")
        scored = _learn(validation, params)
    metrics = evaluate(validation, make("ranker", **scored).fit(validation.data).score, k=k)
    kept = _learn(validation, params) if earlier is not None else scored
    return Tuned("ranker", kept, metrics, [(scored, metrics.ndcg)])


def _tune_hybrid(
    validation: Split, tuned: dict[str, Tuned], *, k: int, seed: int, threads: int, say: Progress,
) -> Tuned:
    candidates = [t for name, t in tuned.items() if name in HYBRID_BASES]
    if not candidates:  # tuned alone: use the default base
        defaults = make("hybrid").params
        base_name, base_params = defaults["base"], {"seed": seed, "threads": threads}
    else:
        top = max(candidates, key=lambda t: t.validation.ndcg)
        base_name, base_params = top.algorithm, top.params
    say(f"validation: hybrid on {base_name}")
    # One hybrid fit gives the base scores and the learned re-buy statistics; the blend weights
    # are then tried on those (due-ness computed once per batch of users).
    hybrid = make("hybrid", base=base_name, base_params=base_params).fit(validation.data)
    grid = [dict(zip(HYBRID_GRID, values)) for values in itertools.product(*HYBRID_GRID.values())]

    def scorer(rows: UserRows) -> tuple[np.ndarray, np.ndarray]:
        return hybrid.base.score(rows), hybrid.due(rows)

    variants = [
        (lambda scored, rows, g=g: blend(scored[0], rows, hybrid.propensity, due=scored[1], **g)) for g in grid
    ]
    results = evaluate_many(validation, scorer, variants, k=k)
    best = max(range(len(grid)), key=lambda i: (results[i].ndcg, -i))
    params = {"base": base_name, "base_params": base_params, **grid[best]}
    return Tuned("hybrid", params, results[best], [({"base": base_name, **g}, m.ndcg) for g, m in zip(grid, results)])
