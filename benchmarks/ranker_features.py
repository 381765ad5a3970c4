"""Candidate ranker features and blends, measured as issue 18 asks: on validation, out of sample.

    python benchmarks/ranker_features.py                          # every candidate, general scenario
    python benchmarks/ranker_features.py --candidates rp3beta ease --seed 43
    python benchmarks/ranker_features.py --scenario grocery --candidates due_feature horizon_7

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

How the weights are learned (the shipped features; ``measure_training``):

* activity_cross: every feature also times the user's activity (log1p of their interaction
  strength), so that each weight moves with how much the user has done;
* mlp: a second stage, a layer of ``HIDDEN`` tanh units over the standardised features added to the
  linear logits, learned with them by the same likelihood (numpy, no new dependency);
* views_weak: items only viewed after the cut-off count as positives of weight ``VIEW_WEIGHT``;
  view_users: the same, and users who only viewed after the cut-off are learned from too;
* stacked: the window before the one learned on is learned from as well (two cut-offs' users);
  activity_cross_stacked, mlp_stacked: those two learned on both cut-offs;
* all_users: no ``FIT_CELLS`` or ``LEARN_CELLS`` cap on the users learned from;
* horizon_7, horizon_28: the re-buy mixture's horizon of 7 or 28 days instead of 14;
  due_feature: the log re-buy chance inside the softmax too; due_horizons: that at 3, 7, 14, 28 days;
  spread_0.4, spread_0.2: the re-buy clock's log spread capped at 0.4 (shipped since, as ``rebuy_spread``)
  or 0.2; spread_learned: not capped (the ranker before session 13);
* activity_cross_l2_<penalty>, mlp_l2_<penalty> (0.01, 0.1, 1): those two with the crosses' weights (or
  the tanh layer's) penalised that much rather than the shipped 0.001;
* category_prior_1, category_prior_8: the pseudo-visits pulling a user's category shares to the shop's
  (the shipped 3);
* basket_timing, basket_timing_0.2: the re-buy clock of a user's last order's lines at the mean of their
  expected cycles (baskets that come back at once, as grocery's do), spread capped at 0.4 or 0.2;
  basket_mix: the mean of that chance and the shipped one.

Oracles (``--candidates true_taste ...``; never shippable, they read the simulator's hidden state, and
say which signal the ranker lacks):

* true_category, true_brand, true_price, true_quality (with log popularity), true_taste: one term of the
  simulator's affinity as an extra feature; true_affinity: all of them (the truth ranking's score);
* true_clusters: the user's lift of each true taste cluster in their views, against what their
  categories would give it (the item side given as labels, the user side learned from behaviour);
* true_item_taste: the user's taste estimated from which items of a category they viewed, against the
  true product tastes (the item side known exactly, the user side from behaviour).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from scipy.optimize import minimize  # noqa: E402
from scipy.special import logsumexp, ndtr  # noqa: E402

from benchmarks.recommender import END  # noqa: E402
from benchmarks.simulated_shop import simulate  # noqa: E402
from recommender.algorithms.base import Algorithm, row_max_normalise  # noqa: E402
from recommender.algorithms.factorization import ALS, EASE  # noqa: E402
from recommender.algorithms.neighbours import UserKNN  # noqa: E402
from recommender.algorithms.ranker import (  # noqa: E402
    CF_FLOOR,
    FEATURES,
    FitInputs,
    Ranker,
    fit_inputs,
    fit_weights,
    learn_weights,
)
from recommender.evaluation import Metrics, Split, evaluate, temporal_split  # noqa: E402
from recommender.matrix import (  # noqa: E402
    MIN_AGE_DAYS,
    Events,
    IdMap,
    UserItemData,
    UserRows,
    WeightConfig,
)
from recommender.uncertainty import PairedBootstrap  # noqa: E402
from recommender.windows import BASKET_GAP_US, temporal_points  # noqa: E402
from shopcore.events import VIEW  # noqa: E402
from simulator.params import SimulationParams  # noqa: E402
from simulator.scenarios import SCENARIOS  # noqa: E402
from simulator.world import World  # noqa: E402

NEIGHBOURS = 100
HISTORY_BUCKETS = ((1, 3), (4, 10), (11, 30), (31, None))
BLEND_WEIGHTS = (0.05, 0.1, 0.2, 0.4)
FEATURE_CANDIDATES = ("ease", "als", "user_knn", "rp3beta", "visit_cooccurrence", "next_item")
TRAINING_CANDIDATES = ("activity_cross", "mlp", "views_weak", "view_users", "stacked", "all_users",
                       "horizon_7", "horizon_28", "due_feature", "activity_cross_stacked", "mlp_stacked",
                       "due_horizons", "spread_0.4", "spread_0.2", "spread_learned",
                       *(f"{kind}_l2_{l2}" for kind in ("activity_cross", "mlp") for l2 in ("0.01", "0.1", "1")),
                       *(f"category_prior_{prior}" for prior in (1, 8)), "basket_timing", "basket_timing_0.2",
                       "basket_mix")
HORIZONS = {"horizon_7": 7.0, "horizon_28": 28.0}  # days of the re-buy mixture's horizon (the ranker's is 14)
CANDIDATES = (*FEATURE_CANDIDATES, "all", "blend_user_knn", "blend_ease", *TRAINING_CANDIDATES)
AFFINITY_PARTS = ("category", "brand", "price", "quality", "taste")
ORACLES = (*(f"true_{part}" for part in AFFINITY_PARTS), "true_affinity", "true_clusters", "true_item_taste")
CLUSTER_PRIOR = 3.0  # pseudo-views pulling a user's lift of a taste cluster to 1
TASTE_STEPS = 60  # gradient steps of a user's taste estimate
VIEW_WEIGHT = 0.25  # of a view after the cut-off, as a positive, against a cart's or purchase's 1
HIDDEN = 6  # tanh units of the nonlinear second stage
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


def windows(scenario: str, seed: int) -> tuple[dict[str, Split], Events, World]:
    """The validation window and the one before it and the one before that, as `shop evaluate` cuts them
    (and the simulated world, which the oracles read)."""
    shop = simulate(SimulationParams.for_scenario(scenario, seed=seed, end=END))
    events, catalogue = shop.events, shop.catalogue
    points, _ = temporal_points(events, test_days=None, validation_days=None)
    items = IdMap.of(catalogue.product_id, events.product_id)
    length = points.test_cutoff_us - points.validation_cutoff_us
    out = {}
    for name, steps_back in (("validation", 0), ("earlier", 1), ("earlier2", 2), ("earlier3", 3)):
        cutoff = points.validation_cutoff_us - steps_back * length
        out[name] = temporal_split(name, events.occurred_before(cutoff + length), catalogue, WeightConfig(), cutoff,
                                   cutoff + length, items)
    return out, events, shop.world


def _learned(fit: Split, score: Split, extra: tuple[str, ...], history: Events) -> tuple[Ranker, dict]:
    """The ranker with ``extra`` features, weights learned on ``fit``, fitted on ``score``'s training data."""
    before_fit = ranker_with(extra, history.occurred_before(fit.cutoff_us))
    learned = fit_weights(before_fit().fit(fit.data), fit.data.rows(fit.eval_rows), fit.positives)
    return ranker_with(extra, history.occurred_before(score.cutoff_us))(**learned).fit(score.data), learned


def _blend(ranker: Ranker, other: Algorithm, weight: float) -> Callable[[UserRows], np.ndarray]:
    return lambda rows: row_max_normalise(ranker.score(rows)) + weight * row_max_normalise(
        np.maximum(other.score(rows), 0.0))


# ------------------------------------------------------------------ oracles: what the ranker misses


def affinity_parts(world: World, user_ids: np.ndarray, items: IdMap) -> dict[str, np.ndarray]:
    """Users x items: each term of the simulator's affinity (``World.affinity``; quality with the log
    popularity views follow), and their sum."""
    u, p = world.users, world.products
    user, item = np.asarray(user_ids, dtype=np.int64) - 1, p.product_id.searchsorted(items.ids)
    brand = np.zeros((len(user), len(item)))
    for slot in range(u.liked_brand.shape[1]):
        liked = u.liked_brand[user, slot][:, None]
        brand += ((liked >= 0) & (p.brand[item][None, :] == liked)) * u.liked_brand_affinity[user, slot][:, None]
    out = {"category": u.category_affinity[user][:, p.category[item]], "brand": brand,
           "price": -u.price_sensitivity[user][:, None] * p.log_relative_price[item][None, :],
           "quality": np.broadcast_to(p.quality[item] + np.log(p.popularity[item]), brand.shape),
           "taste": u.taste[user].astype(np.float64) @ p.taste[item].astype(np.float64).T}
    out["affinity"] = sum(out.values())
    return out


def cluster_lift(views: sp.csr_matrix, cluster: np.ndarray, cat_onehot: sp.csr_matrix, shop_views: np.ndarray) -> np.ndarray:
    """Users x clusters: ln of (the user's views in the cluster + prior) over (the views their categories
    would give it at the shop's shares + prior)."""
    k = int(cluster.max()) + 1
    onehot = sp.csr_matrix((np.ones(len(cluster)), (np.arange(len(cluster)), cluster)), shape=(len(cluster), k))
    in_category = np.asarray((cat_onehot.T @ sp.diags(shop_views) @ onehot).todense())
    share = in_category / np.maximum(in_category.sum(axis=1, keepdims=True), 1e-12)
    expected = np.asarray((views @ cat_onehot).todense()) @ share
    return np.log((np.asarray((views @ onehot).todense()) + CLUSTER_PRIOR) / (expected + CLUSTER_PRIOR))


def taste_estimate(views: sp.csr_matrix, item_taste: np.ndarray, category: np.ndarray, shop_views: np.ndarray,
                   mean: np.ndarray, variance: float) -> np.ndarray:
    """Users x taste dimensions: the taste that best explains which items of a category the user viewed
    (P(i | its category) proportional to the shop's views of i x exp(taste . taste_i)) under a normal
    prior of the population's mean and spread; gradient steps from the mean."""
    n = views.toarray().astype(np.float64)
    groups = [np.flatnonzero(category == c) for c in np.unique(category)]
    per_group = np.stack([n[:, g].sum(axis=1) for g in groups], axis=1)
    observed = n @ item_taste
    step = variance / (per_group.sum(axis=1, keepdims=True) * variance + 1.0)
    taste = np.tile(mean, (len(n), 1))
    for _ in range(TASTE_STEPS):
        logits = taste @ item_taste.T
        grad = observed - (taste - mean) / variance
        for j, g in enumerate(groups):
            a = np.log(shop_views[g]) + logits[:, g]
            a = np.exp(a - a.max(axis=1, keepdims=True))
            grad -= per_group[:, j:j + 1] * ((a / a.sum(axis=1, keepdims=True)) @ item_taste[g])
        taste += 0.5 * step * grad
    return taste


def oracle(candidate: str, world: World) -> type[Ranker]:
    """The shipped ranker plus one reading of the simulator's hidden state: a term of the true affinity
    (``true_<term>``); the user's lift of each true taste cluster in their views (``true_clusters``: the
    item side given as labels, the user side from behaviour); or the user's taste estimated from their
    views against the true product tastes (``true_item_taste``: the item side known exactly)."""

    class Oracle(Ranker):
        feature_names = (*FEATURES, candidate)

        def _fit(self, data: UserItemData) -> None:
            super()._fit(data)
            self.user_ids, self.items = data.users.ids, data.items
            self.item = world.products.product_id.searchsorted(data.items.ids)
            self.shop_views = np.asarray(data.views.sum(axis=0)).ravel() + 0.5

        def features(self, rows: UserRows) -> dict[str, np.ndarray]:
            out = super().features(rows)
            products = world.products
            if candidate == "true_clusters":
                cluster = products.taste_cluster[self.item].astype(np.int64)
                out[candidate] = cluster_lift(rows.views, cluster, self.cat_onehot, self.shop_views)[:, cluster]
            elif candidate == "true_item_taste":
                item_taste = products.taste[self.item].astype(np.float64)
                population = world.users.taste.astype(np.float64)
                taste = taste_estimate(rows.views, item_taste, self.cat, self.shop_views, population.mean(axis=0),
                                       float(population.var(axis=0).mean()))
                out[candidate] = taste @ item_taste.T
            else:
                out[candidate] = affinity_parts(world, self.user_ids[rows.index], self.items)[candidate.removeprefix("true_")]
            return out

    return Oracle


# ------------------------------------------------------------------ how the weights are learned


class Crossed(Ranker):
    """The shipped ranker plus each feature times the user's activity: weights that move with it."""

    feature_names = (*FEATURES, *(f"{name}*activity" for name in FEATURES))

    def features(self, rows: UserRows) -> dict[str, np.ndarray]:
        out = super().features(rows)
        z = self.activity(rows)[:, None]
        for name in FEATURES:
            out[f"{name}*activity"] = out[name] * z
        return out


class DueFeature(Ranker):
    """The shipped ranker plus the log chance of a re-buy within the horizon inside the softmax too."""

    feature_names = (*FEATURES, "due_log")

    def features(self, rows: UserRows) -> dict[str, np.ndarray]:
        return {**super().features(rows), "due_log": np.log(self.due(rows) + CF_FLOOR)}


def narrow_timing(spread: float) -> type[Ranker]:
    """The shipped ranker whose re-buy clock assumes a log spread of at most ``spread`` around a
    pair's cycle (the learned one is wider where baskets come back at their lines' mean cycle)."""

    class Narrow(Ranker):
        def _fit(self, data: UserItemData) -> None:
            super()._fit(data)
            self.timing.sigma = min(self.timing.sigma, spread)

    return Narrow


def basket_timing(spread: float, share: float = 1.0) -> type[Ranker]:
    """The shipped ranker whose re-buy clock expects the lines of one order back together, at the mean
    of their expected cycles (a user's purchases of the same last instant are one order), with the log
    spread capped at ``spread``: where baskets come back at once (grocery), an item's own cycle is not
    when it returns. ``share``: the basket clock's weight in a mixture with the item's own."""

    class Basket(Ranker):
        def _fit(self, data: UserItemData) -> None:
            super()._fit(data)
            self.timing.sigma = min(self.timing.sigma, spread)

        def due(self, rows: UserRows, order_clock: float | None = None) -> np.ndarray:
            t = self.timing
            bought = rows.purchases.tocoo()
            age, units, gap = rows.purchase_timing()
            own = np.isfinite(gap)
            n_gaps = np.where(own, bought.data.astype(np.float64) - 1.0, 0.0)
            own_log = np.log(np.maximum(np.where(own, gap, 1.0), 0.25))
            log_cycle = (n_gaps * own_log + t.log_cycle[bought.col]) / (n_gaps + 1.0)
            expected = log_cycle + np.log(np.maximum(units, 1.0))
            _, order = np.unique(np.stack((bought.row.astype(np.float64), age)), axis=1, return_inverse=True)
            order = order.ravel()
            mean = np.bincount(order, weights=np.exp(expected)) / np.bincount(order)
            expected = np.log(mean[order])
            start = ndtr((np.log(np.maximum(age, MIN_AGE_DAYS)) - expected) / t.sigma)
            end = ndtr((np.log(age + float(self.params["horizon_days"])) - expected) / t.sigma)
            p = t.conversion[bought.col]
            out = np.zeros((len(rows), len(self.cat)))
            out[bought.row, bought.col] = p * (end - start) / np.maximum(1.0 - p + p * (1.0 - start), 1e-12)
            return share * out + (1.0 - share) * super().due(rows, order_clock=0.0)

    return Basket


class DueHorizons(Ranker):
    """The shipped ranker plus the log chance of a re-buy within 3, 7, 14 and 28 days inside the softmax:
    the weights mix horizons rather than trusting one."""

    feature_names = (*FEATURES, *(f"due_log_{days}" for days in (3, 7, 14, 28)))

    def features(self, rows: UserRows) -> dict[str, np.ndarray]:
        out = super().features(rows)
        for days in (3, 7, 14, 28):
            out[f"due_log_{days}"] = np.log(Ranker.due(self.with_horizon(days), rows) + CF_FLOOR)
        return out

    def with_horizon(self, days: float) -> Ranker:
        other = Ranker.__new__(Ranker)
        other.__dict__.update(self.__dict__)
        other.params = {**self.params, "horizon_days": float(days)}
        return other


def _hidden(x: np.ndarray, hidden: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tanh layer's logits, its units and the standardised features."""
    xt = (x - hidden["mean"]) / hidden["std"]
    t = np.tanh(xt @ hidden["a"] + hidden["c"])
    return t @ hidden["v"], t, xt


class SecondStage(Ranker):
    """The shipped ranker's linear taste plus a small tanh layer over the same features."""

    defaults: dict[str, Any] = {**Ranker.defaults, "hidden": None}  # noqa: RUF012

    def _taste_logits(self, rows: UserRows) -> np.ndarray:
        feats = self.features(rows)
        x = np.stack([feats[name] for name in self.feature_names], axis=-1)
        w = np.array([float(self.params["weights"].get(name, 0.0)) for name in self.feature_names])
        return x @ w + _hidden(x, self.params["hidden"])[0]


def learn_second_stage(model: Ranker, inputs: FitInputs, linear: dict[str, Any], *, l2: float = 1e-3,
                       hidden_l2: float = 1e-3) -> dict[str, Any]:
    """The linear weights (from ``linear``, learned first) and a tanh layer, learned together by the
    same likelihood as ``learn_weights``; the gradient goes through the logits (dL/ds). ``hidden_l2``
    penalises the tanh layer's weights (``l2`` the linear ones)."""
    names, k, h = model.feature_names, len(model.feature_names), HIDDEN
    x, due, z = inputs.x, inputs.due, inputs.z
    y = inputs.y > 0
    weight = inputs.y[y]
    n_pos = float(weight.sum())
    due_sum = due.sum(axis=1)
    pos_user = np.nonzero(y)[0]
    flat = x.reshape(-1, k)
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    std[std < 1e-9] = 1.0
    rng = np.random.default_rng(0)
    start = np.concatenate(([linear["weights"][n] for n in names], [linear["mix_bias"], linear["mix_activity"]],
                            rng.normal(0.0, 0.1, k * h), np.zeros(h), rng.normal(0.0, 0.1, h)))

    def unpack(theta: np.ndarray) -> tuple[np.ndarray, float, float, dict[str, Any]]:
        a = theta[k + 2:k + 2 + k * h].reshape(k, h)
        c, v = theta[k + 2 + k * h:k + 2 + k * h + h], theta[k + 2 + k * h + h:]
        return theta[:k], theta[k], theta[k + 1], {"mean": mean, "std": std, "a": a, "c": c, "v": v}

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b0, b1, hidden = unpack(theta)
        extra, t, xt = _hidden(x, hidden)
        s = x @ w + extra + inputs.offset  # a sampled candidate stands for the items it was drawn for
        q = np.exp(s - logsumexp(s, axis=1, keepdims=True))
        rho = np.exp(b0 + b1 * z)
        num = q[y] + rho[pos_user] * due[y]
        norm = 1.0 + rho * due_sum
        penalty = l2 * w @ w + hidden_l2 * ((hidden["a"] ** 2).sum() + hidden["v"] @ hidden["v"])
        loss = -(weight * (np.log(num) - np.log(norm[pos_user]))).sum() / n_pos + penalty
        qa = weight * q[y] / num
        g = q * np.bincount(pos_user, weights=qa, minlength=len(q))[:, None]
        g[y] -= qa
        g /= n_pos
        d = g[..., None] * (1.0 - t * t) * hidden["v"]
        d_rho = weight * (rho[pos_user] * due[y] / num - rho[pos_user] * due_sum[pos_user] / norm[pos_user])
        grad = np.concatenate((np.einsum("nm,nmk->k", g, x) + 2 * l2 * w,
                               -np.array([d_rho.sum(), (d_rho * z[pos_user]).sum()]) / n_pos,
                               (np.einsum("nmk,nmh->kh", xt, d) + 2 * hidden_l2 * hidden["a"]).ravel(),
                               d.sum(axis=(0, 1)), np.einsum("nm,nmh->h", g, t) + 2 * hidden_l2 * hidden["v"]))
        return float(loss), grad

    bounds = [(None, None)] * k + [(-20.0, 20.0), (-5.0, 5.0)] + [(None, None)] * (k * h + 2 * h)
    result = minimize(loss_grad, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 300})
    w, b0, b1, hidden = unpack(result.x)
    linear_loss = loss_grad(np.concatenate((start[:k + 2], np.zeros(k * h + h), np.zeros(h))))[0]
    return {"weights": dict(zip(names, map(float, w))), "mix_bias": float(b0), "mix_activity": float(b1),
            "hidden": hidden, "losses": (linear_loss, float(result.fun))}


def with_views(split: Split, events: Events, *, add_users: bool) -> tuple[np.ndarray, sp.csr_matrix]:
    """``split``'s users (and, with ``add_users``, those who only viewed) and their positives: carts and
    purchases 1, items only viewed after the cut-off ``VIEW_WEIGHT``."""
    future = events.occurred_between(split.cutoff_us, split.end_us)
    future = future.take(future.event_type == VIEW)
    row, col = split.data.users.index(future.user_id), split.data.items.index(future.product_id)
    ok = (row >= 0) & (col >= 0)
    shape = (split.data.n_users, split.data.n_items)
    views = sp.csr_matrix((np.ones(int(ok.sum())), (row[ok], col[ok])), shape=shape)
    views.sum_duplicates()
    views.data[:] = VIEW_WEIGHT
    chosen = split.positives.tocoo()
    carts = sp.csr_matrix((chosen.data.astype(np.float64), (split.eval_rows[chosen.row], chosen.col)), shape=shape)
    users = np.union1d(split.eval_rows, np.flatnonzero(views.getnnz(axis=1))) if add_users else split.eval_rows
    return users, carts.maximum(views)[users].tocsr()


def measure_training(candidate: str, fit: Split, score: Split, before_fit: Split, events: Events) -> tuple[Metrics, str]:
    """The shipped features with weights learned another way on ``fit`` (``before_fit``: the window
    before it, for stacking), scored on ``score``."""
    stack = candidate.endswith("stacked")
    candidate = candidate.removesuffix("_stacked")
    # "<kind>_l2_<penalty>": the crosses' weights (or the tanh layer's) penalised more than the shipped ones.
    candidate, _, extra_l2 = candidate.partition("_l2_")
    extra_l2 = float(extra_l2) if extra_l2 else 1e-3
    kind = {"activity_cross": Crossed, "mlp": SecondStage, "due_feature": DueFeature,
            "due_horizons": DueHorizons, "spread_0.4": narrow_timing(0.4),
            "spread_0.2": narrow_timing(0.2), "basket_timing": basket_timing(0.4),
            "basket_timing_0.2": basket_timing(0.2), "basket_mix": basket_timing(0.4, 0.5)}.get(candidate, Ranker)
    params = {"horizon_days": HORIZONS[candidate]} if candidate in HORIZONS else {}
    if candidate == "spread_learned":
        params = {"rebuy_spread": float("inf")}
    if candidate.startswith("category_prior_"):
        params = {"category_prior": float(candidate.removeprefix("category_prior_"))}
    model = kind(**params).fit(fit.data)
    rows, positives = fit.eval_rows, fit.positives
    if candidate in ("views_weak", "view_users"):
        rows, positives = with_views(fit, events, add_users=candidate == "view_users")
    inputs = fit_inputs(model, fit.data.rows(rows), positives)
    note = f"{len(inputs.z):,} of {len(rows):,} users"
    if stack:
        inputs = inputs + fit_inputs(kind(**params).fit(before_fit.data), before_fit.data.rows(before_fit.eval_rows),
                                     before_fit.positives)
        note = f"{len(inputs.z):,} users"
    if candidate == "all_users":
        import recommender.algorithms.ranker as ranker_module

        caps = ranker_module.FIT_CELLS, ranker_module.LEARN_CELLS
        ranker_module.FIT_CELLS = ranker_module.LEARN_CELLS = 10 ** 9
        inputs = fit_inputs(model, fit.data.rows(rows), positives)
        ranker_module.FIT_CELLS, ranker_module.LEARN_CELLS = caps
        note = f"{len(inputs.z):,} of {len(rows):,} users"
    crossed = np.array([extra_l2 if name.endswith("*activity") else 1e-3 for name in model.feature_names])
    learned = learn_weights(model, inputs, l2=crossed)
    if candidate == "mlp":
        learned = learn_second_stage(model, inputs, learned, hidden_l2=extra_l2)
        note += ", in-sample loss {:.4f} -> {:.4f}".format(*learned.pop("losses"))
    del inputs
    scored = kind(**params, **learned).fit(score.data)
    return evaluate(score, scored.score, k=10), note


def measure(candidate: str, fit: Split, score: Split, before_fit: Split, history: Events,
            world: World) -> tuple[Metrics, str]:
    """``candidate`` learned on ``fit`` and scored on ``score``; with what it learned, in words."""
    if candidate in ORACLES:
        kind = oracle(candidate, world)
        learned = fit_weights(kind().fit(fit.data), fit.data.rows(fit.eval_rows), fit.positives)
        return evaluate(score, kind(**learned).fit(score.data).score, k=10), f"{candidate} {learned['weights'][candidate]:+.3f}"
    if candidate in TRAINING_CANDIDATES:
        return measure_training(candidate, fit, score, before_fit, history)
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
    parser.add_argument("--candidates", nargs="+", choices=(*CANDIDATES, *ORACLES), default=list(CANDIDATES),
                        metavar="CANDIDATE", help=f"which to measure ({', '.join(CANDIDATES)}; or the oracles, which "
                        f"read the simulator's hidden state: {', '.join(ORACLES)})")
    args = parser.parse_args()
    started = time.perf_counter()
    splits, events, world = windows(args.scenario, args.seed)
    table = Table(title=f"Candidate ranker features, {args.scenario} (seed {args.seed}): NDCG@10 learned on the window "
                  "before, lead over the shipped ranker [95%], mean lead by items in history", title_justify="left")
    for column in ("candidate", "window", "users", "NDCG@10", "lead [95%]",
                   *(f"{lo}-{hi}" if hi else f">{lo - 1}" for lo, hi in HISTORY_BUCKETS), "learned"):
        table.add_column(column, justify="left" if column in ("candidate", "window", "learned") else "right")
    for window, fit, score, before_fit in (("validation", splits["earlier"], splits["validation"], splits["earlier2"]),
                                           ("one earlier", splits["earlier2"], splits["earlier"], splits["earlier3"])):
        shipped, _ = _learned(fit, score, (), events)
        base = evaluate(score, shipped.score, k=10)
        history = np.diff(score.data.confidence.indptr)[score.eval_rows]
        bootstrap = PairedBootstrap(len(base.per_user_ndcg), seed=0)
        table.add_row("shipped ranker", window, f"{len(base.per_user_ndcg):,}", f"{base.ndcg:.4f}", "", "", "", "", "", "")
        for candidate in args.candidates:
            metrics, learned = measure(candidate, fit, score, before_fit, events, world)
            lead = bootstrap.difference(metrics.per_user_ndcg, base.per_user_ndcg)
            by_length = []
            for lo, hi in HISTORY_BUCKETS:
                users = (history >= lo) & (history <= (hi or history.max()))
                gain = metrics.per_user_ndcg[users] - base.per_user_ndcg[users]
                by_length.append(f"{gain.mean():+.4f} ({int(users.sum())})" if users.any() else "")
            cells = (f"{metrics.ndcg:.4f}", f"{lead.estimate:+.4f} [{lead.low:+.4f}, {lead.high:+.4f}]", *by_length)
            table.add_row(candidate, window, "", *cells, learned)
            console.print(f"{window}: {candidate} {' '.join(cells)} ({time.perf_counter() - started:.0f} s)")
    console.print(table)


if __name__ == "__main__":
    main()
