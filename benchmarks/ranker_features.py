"""Candidate ranker features and blends, measured as issue 18 asks: on validation, out of sample.

    python benchmarks/ranker_features.py                          # every candidate, general scenario
    python benchmarks/ranker_features.py --candidates rp3beta ease --seed 43
    python benchmarks/ranker_features.py --scenario grocery

For each candidate, the ranker with the candidate's extra features learns its weights
(``fit_weights``) on the window before validation and is scored once on validation; the same is
repeated one window earlier (weights learned on the window before that, scored on the window before
validation), because after many tries one lead beyond the noise on one window is likely to be luck.
Each row gives NDCG@10 and the paired-bootstrap lead over the shipped ranker scored the same way
(95% interval over the window's users), the mean lead by the length of a user's history (where
issue 18's gap is), and the learned weight of each extra feature. The windows are those `shop
evaluate` cuts (sized by the data, seed 42's default-sized shop of the scenario).

Candidates (each a log kNN-style reading, scaled so the user's best is 1, as the ranker's cf_log):

* ease: Steck's EASE scores (l2 200); als: implicit ALS scores; user_knn: user-kNN scores;
* rp3beta: a three-step random walk user -> item -> user -> item, damped by the popularity of the
  end item (Paudel et al.'s RP3beta, beta 0.5, 100 neighbours per item);
* visit_cooccurrence: cosine similarity of items viewed in the same visit (no gap over 30 minutes),
  rather than over users' whole histories;
* next_item: how often an item is the next one viewed after another within a visit;
* all: every one of the above at once;
* blend_user_knn, blend_ease: not features but blends of the ranker's row-scaled scores with the
  other model's, at the weight (of 0.05, 0.1, 0.2, 0.4) that is best on the window before.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from benchmarks.recommender import END  # noqa: E402
from benchmarks.simulated_shop import simulate  # noqa: E402
from recommender.algorithms.base import Algorithm, row_max_normalise  # noqa: E402
from recommender.algorithms.factorization import ALS, EASE  # noqa: E402
from recommender.algorithms.neighbours import UserKNN  # noqa: E402
from recommender.algorithms.ranker import CF_FLOOR, FEATURES, Ranker, fit_weights  # noqa: E402
from recommender.evaluation import Metrics, Split, evaluate, temporal_split  # noqa: E402
from recommender.matrix import Events, IdMap, UserItemData, UserRows, WeightConfig  # noqa: E402
from recommender.uncertainty import PairedBootstrap  # noqa: E402
from recommender.windows import BASKET_GAP_US, temporal_points  # noqa: E402
from simulator.params import SimulationParams  # noqa: E402
from simulator.scenarios import SCENARIOS  # noqa: E402

NEIGHBOURS = 100
HISTORY_BUCKETS = ((1, 3), (4, 10), (11, 30), (31, None))
BLEND_WEIGHTS = (0.05, 0.1, 0.2, 0.4)
FEATURE_CANDIDATES = ("ease", "als", "user_knn", "rp3beta", "visit_cooccurrence", "next_item")
CANDIDATES = (*FEATURE_CANDIDATES, "all", "blend_user_knn", "blend_ease")
console = Console(highlight=False, width=200)


# ------------------------------------------------------------------ item x item readings


def _top_per_row(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """The k largest entries of each row."""
    m = m.tocsr()
    keep = np.zeros(len(m.data), dtype=bool)
    for i in range(m.shape[0]):
        lo, hi = m.indptr[i], m.indptr[i + 1]
        if hi - lo <= k:
            keep[lo:hi] = True
        else:
            keep[lo + np.argpartition(-m.data[lo:hi], k - 1)[:k]] = True
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    return sp.csr_matrix((m.data[keep], (rows[keep], m.indices[keep])), shape=m.shape, dtype=np.float32)


def rp3beta(data: UserItemData, beta: float = 0.5) -> sp.csr_matrix:
    x = data.confidence
    user_step = sp.diags(1.0 / np.maximum(np.asarray(x.sum(axis=1)).ravel(), 1e-9)) @ x
    item_step = sp.diags(1.0 / np.maximum(np.asarray(x.sum(axis=0)).ravel(), 1e-9)) @ x.T
    users_per_item = np.maximum(np.diff(x.tocsc().indptr), 1).astype(np.float64)
    walk = ((item_step @ user_step) @ sp.diags(users_per_item ** -beta)).tocsr()
    walk.setdiag(0)
    walk.eliminate_zeros()
    return _top_per_row(walk, NEIGHBOURS)


def _visits(events: Events, items: IdMap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each event's visit number and item index (in visit, then time order), and where visits start."""
    order = np.lexsort((events.occurred_us, events.user_id))
    user, at = events.user_id[order], events.occurred_us[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = (user[1:] != user[:-1]) | (at[1:] - at[:-1] > BASKET_GAP_US)
    return np.cumsum(starts) - 1, items.index(events.product_id[order]), starts


def visit_cooccurrence(events: Events, items: IdMap) -> sp.csr_matrix:
    visit, item, _ = _visits(events, items)
    seen = sp.csr_matrix((np.ones(len(visit), dtype=np.float32), (visit, item)), shape=(int(visit.max()) + 1, len(items)))
    seen.data[:] = 1.0
    together = (seen.T @ seen).tocsr()
    together.setdiag(0)
    together.eliminate_zeros()
    scale = sp.diags(1.0 / np.sqrt(np.asarray(seen.sum(axis=0)).ravel() + 1e-9))
    return _top_per_row(scale @ together @ scale, NEIGHBOURS)


def next_item(events: Events, items: IdMap) -> sp.csr_matrix:
    _, item, starts = _visits(events, items)
    same_visit = ~starts[1:]
    before, after = item[:-1][same_visit], item[1:][same_visit]
    moved = before != after
    steps = sp.csr_matrix((np.ones(int(moved.sum()), dtype=np.float32), (before[moved], after[moved])),
                          shape=(len(items), len(items)))
    out_degree = np.asarray(steps.sum(axis=1)).ravel() + 1.0
    in_degree = np.asarray(steps.sum(axis=0)).ravel() + 1.0
    return _top_per_row(sp.diags(1.0 / out_degree) @ steps @ sp.diags(1.0 / np.sqrt(in_degree)), NEIGHBOURS)


def _log_scaled(scores: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(row_max_normalise(np.asarray(scores, dtype=np.float64)), 0.0) + CF_FLOOR)


# ------------------------------------------------------------------ the ranker with candidate features


def ranker_with(extra: tuple[str, ...], history: Events) -> type[Ranker]:
    """The shipped ranker plus the log readings of ``extra`` (``history``: the events before the cut-off)."""

    class Candidate(Ranker):
        feature_names = (*FEATURES, *extra)

        def _fit(self, data: UserItemData) -> None:
            super()._fit(data)
            self.models: dict[str, Algorithm] = {}
            self.item_item: dict[str, sp.csr_matrix] = {}
            for name in extra:
                if name == "ease":
                    self.models[name] = EASE(l2=200.0).fit(data)
                elif name == "als":
                    self.models[name] = ALS(threads=2).fit(data)
                elif name == "user_knn":
                    self.models[name] = UserKNN().fit(data)
                elif name == "rp3beta":
                    self.item_item[name] = rp3beta(data)
                elif name == "visit_cooccurrence":
                    self.item_item[name] = visit_cooccurrence(history, data.items)
                elif name == "next_item":
                    self.item_item[name] = next_item(history, data.items)

        def features(self, rows: UserRows) -> dict[str, np.ndarray]:
            out = super().features(rows)
            for name, model in self.models.items():
                out[name] = _log_scaled(model.score(rows))
            for name, similarity in self.item_item.items():
                out[name] = _log_scaled((rows.confidence @ similarity).toarray())
            return out

    return Candidate


# ------------------------------------------------------------------ windows and measurements


def windows(scenario: str, seed: int) -> tuple[dict[str, Split], Events]:
    """The validation window and the one before it and the one before that, as `shop evaluate` cuts them."""
    shop = simulate(SimulationParams.for_scenario(scenario, seed=seed, end=END))
    events, catalogue = shop.events, shop.catalogue
    points, _ = temporal_points(events, test_days=None, validation_days=None)
    items = IdMap.of(catalogue.product_id, events.product_id)
    length = points.test_cutoff_us - points.validation_cutoff_us
    out = {}
    for name, steps_back in (("validation", 0), ("earlier", 1), ("earlier2", 2)):
        cutoff = points.validation_cutoff_us - steps_back * length
        out[name] = temporal_split(name, events.occurred_before(cutoff + length), catalogue, WeightConfig(), cutoff,
                                   cutoff + length, items)
    return out, events


def _learned(fit: Split, score: Split, extra: tuple[str, ...], history: Events) -> tuple[Ranker, dict]:
    """The ranker with ``extra`` features, weights learned on ``fit``, fitted on ``score``'s training data."""
    before_fit = ranker_with(extra, history.occurred_before(fit.cutoff_us))
    learned = fit_weights(before_fit().fit(fit.data), fit.data.rows(fit.eval_rows), fit.positives)
    return ranker_with(extra, history.occurred_before(score.cutoff_us))(**learned).fit(score.data), learned


def _blend(ranker: Ranker, other: Algorithm, weight: float) -> Callable[[UserRows], np.ndarray]:
    return lambda rows: row_max_normalise(ranker.score(rows)) + weight * row_max_normalise(
        np.maximum(other.score(rows), 0.0))


def measure(candidate: str, fit: Split, score: Split, history: Events) -> tuple[Metrics, str]:
    """``candidate`` learned on ``fit`` and scored on ``score``; with what it learned, in words."""
    if candidate.startswith("blend_"):
        other = {"blend_user_knn": UserKNN, "blend_ease": EASE}[candidate]
        # The ranker's weights and the blend's weight are both chosen on ``fit``, then scored on ``score``.
        on_fit, learned = _learned(fit, fit, (), history)
        other_on_fit = other().fit(fit.data)
        weight = max(BLEND_WEIGHTS, key=lambda w: evaluate(fit, _blend(on_fit, other_on_fit, w), k=10).ndcg)
        on_score = Ranker(**learned).fit(score.data)
        return evaluate(score, _blend(on_score, other().fit(score.data), weight), k=10), f"blend weight {weight}"
    extra = FEATURE_CANDIDATES if candidate == "all" else (candidate,)
    model, learned = _learned(fit, score, extra, history)
    return evaluate(score, model.score, k=10), ", ".join(f"{name} {learned['weights'][name]:+.3f}" for name in extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=list(SCENARIOS), default="general")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--candidates", nargs="+", choices=CANDIDATES, default=list(CANDIDATES), metavar="CANDIDATE",
                        help=f"which to measure ({', '.join(CANDIDATES)})")
    args = parser.parse_args()
    started = time.perf_counter()
    splits, events = windows(args.scenario, args.seed)
    table = Table(title=f"Candidate ranker features, {args.scenario} (seed {args.seed}): NDCG@10 learned on the window "
                  "before, lead over the shipped ranker [95%], mean lead by items in history", title_justify="left")
    for column in ("candidate", "window", "users", "NDCG@10", "lead [95%]",
                   *(f"{lo}-{hi}" if hi else f">{lo - 1}" for lo, hi in HISTORY_BUCKETS), "learned"):
        table.add_column(column, justify="left" if column in ("candidate", "window", "learned") else "right")
    for window, fit, score in (("validation", splits["earlier"], splits["validation"]),
                               ("one earlier", splits["earlier2"], splits["earlier"])):
        shipped, _ = _learned(fit, score, (), events)
        base = evaluate(score, shipped.score, k=10)
        history = np.diff(score.data.confidence.indptr)[score.eval_rows]
        bootstrap = PairedBootstrap(len(base.per_user_ndcg), seed=0)
        table.add_row("shipped ranker", window, f"{len(base.per_user_ndcg):,}", f"{base.ndcg:.4f}", "", "", "", "", "", "")
        for candidate in args.candidates:
            metrics, learned = measure(candidate, fit, score, events)
            lead = bootstrap.difference(metrics.per_user_ndcg, base.per_user_ndcg)
            by_length = []
            for lo, hi in HISTORY_BUCKETS:
                users = (history >= lo) & (history <= (hi or history.max()))
                gain = metrics.per_user_ndcg[users] - base.per_user_ndcg[users]
                by_length.append(f"{gain.mean():+.4f} ({int(users.sum())})" if users.any() else "")
            table.add_row(candidate, window, "", f"{metrics.ndcg:.4f}",
                          f"{lead.estimate:+.4f} [{lead.low:+.4f}, {lead.high:+.4f}]", *by_length, learned)
            console.print(f"{window}: {candidate} done ({time.perf_counter() - started:.0f} s)")
    console.print(table)


if __name__ == "__main__":
    main()
