"""The hybrid (the default before the learned ranker, ranker.py): collaborative filtering for
discovery, blended with re-buys where and when the data says re-buying happens.

Whether recommending an already bought item is right depends on the item: coffee is bought
again and again, a sofa almost never. And *when* matters: coffee bought yesterday is not wanted
today, coffee bought a cycle ago is. The model learns both from purchase histories:

* propensity(i): the share of the item's buyers who bought it more than once, shrunk towards its
  category's share (and that towards the shop's), so that rarely bought items borrow strength;
* re-buy timing (``RebuyTiming``): per item, the log-normal distribution of the days a unit
  lasts (gaps between a user's repeat purchases of the item, per unit bought), shrunk towards
  the category and the shop, and the chance that a purchase is followed by another (a
  "cure" model fitted with censoring: a last purchase that is still recent is no evidence
  against a re-buy). A user's past purchase is then scored by how due it is: the probability
  that its next re-buy falls in the coming ``horizon_days``, given that it has not happened yet.

With cf(u, i) the base model's score scaled so that the user's best is 1, and seen(u, i) the
user's own confidence for the item scaled the same way (what they looked at before is likely to
come back):

    not bought:  cf(u, i) + seen_weight x seen(u, i)
    bought:      keep_cf x (cf(u, i) + seen_weight x seen(u, i))
                 + rebuy_weight x propensity(i) x (1 - 2^-purchases(u, i)) [x recency(u, i)]
                 + due_weight x due(u, i)

The weights are tuned on the validation split (tuning.py): on a consumables shop due re-buys
rise to the top and just-bought ones do not, on a durables shop the learned re-buy chances are
~0 and the model is its collaborative base.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr

from recommender.algorithms.base import Algorithm, row_max_normalise
from recommender.matrix import MIN_AGE_DAYS, UserItemData, UserRows

MIN_GAP_DAYS = 0.25  # gaps per unit shorter than this (same-day re-orders) count as this


def rebuy_propensity(data: UserItemData, prior_strength: float) -> np.ndarray:
    """Per item: smoothed share of its buyers who bought it at least twice."""
    bought = data.purchases.tocsc()
    buyers = np.diff(bought.indptr).astype(np.float64)
    repeat = bought.copy()
    repeat.data = (repeat.data >= 2).astype(np.float64)
    repeaters = np.asarray(repeat.sum(axis=0)).ravel()
    total_buyers, total_repeaters = buyers.sum(), repeaters.sum()
    shop_rate = total_repeaters / total_buyers if total_buyers else 0.0
    m = float(prior_strength)
    n_cat = len(data.category_names)
    cat = data.item_category
    known = cat >= 0
    cat_buyers = np.bincount(cat[known], weights=buyers[known], minlength=n_cat)
    cat_repeaters = np.bincount(cat[known], weights=repeaters[known], minlength=n_cat)
    cat_rate = (cat_repeaters + m * shop_rate) / (cat_buyers + m) if n_cat else np.empty(0)
    prior = np.where(known, cat_rate[np.maximum(cat, 0)] if n_cat else shop_rate, shop_rate)
    return ((repeaters + m * prior) / (buyers + m)).astype(np.float32)


def _shrink(values: np.ndarray, weights: np.ndarray, groups: np.ndarray, n_groups: int,
            prior: float, fallback: float) -> tuple[np.ndarray, float]:
    """Weighted mean of ``values`` per group (-1: no group), shrunk towards the overall mean."""
    total = float(weights.sum())
    overall = float((weights * values).sum() / total) if total > 0 else fallback
    known = groups >= 0
    w = np.bincount(groups[known], weights=weights[known], minlength=n_groups)
    s = np.bincount(groups[known], weights=(weights * values)[known], minlength=n_groups)
    return (s + prior * overall) / (w + prior), overall


@dataclass
class RebuyTiming:
    """When a user's past purchase of an item is due again, learned from purchase histories.

    ``log_cycle[i]``: mean log days one unit of item i lasts (from users' repeat purchases of
    it), shrunk towards its category (``prior`` pairs' worth) and that towards the shop;
    ``sigma``: the spread of log gaps around the item's mean; ``conversion[i]``: the chance that a
    purchase of item i is followed by another, estimated with censoring (EM of a mixture "cure"
    model: a pair whose last purchase is recent may still be re-bought), shrunk likewise.
    """

    log_cycle: np.ndarray  # float64 per item
    conversion: np.ndarray  # float64 per item
    sigma: float

    @classmethod
    def fit(cls, data: UserItemData, *, prior: float = 2.0, conversion_prior: float = 5.0,
            iterations: int = 20) -> RebuyTiming:
        bought = data.purchases.tocoo()
        n_items, n_cat = data.n_items, len(data.category_names)
        col = bought.col
        count = bought.data.astype(np.float64)
        age, units, gap = data.all_rows().purchase_timing()
        cat = data.item_category

        # Days per unit: item means shrunk to the category, categories to the shop.
        observed = np.isfinite(gap)
        log_gap = np.log(np.maximum(np.where(observed, gap, 1.0), MIN_GAP_DAYS))
        weight = np.where(observed, count - 1.0, 0.0)
        cat_mean, shop_mean = _shrink(log_gap, weight, cat[col], n_cat, prior, np.log(30.0))
        item_prior = np.where(cat >= 0, cat_mean[np.maximum(cat, 0)] if n_cat else shop_mean, shop_mean)
        w_item = np.bincount(col, weights=weight, minlength=n_items)
        s_item = np.bincount(col, weights=weight * log_gap, minlength=n_items)
        log_cycle = (s_item + prior * item_prior) / (w_item + prior)
        # The spread of one gap: a pair's mean of n gaps varies ~sigma^2 / n around the item's.
        resid = log_gap[observed] - log_cycle[col[observed]]
        sigma = float(np.sqrt(np.mean(weight[observed] * resid ** 2))) if observed.sum() >= 10 else 0.5
        sigma = float(np.clip(sigma, 0.1, 1.5))

        # Conversion: every purchase but the last of a pair was followed by a re-buy; the last
        # one is censored at its age, and still "alive" with the posterior chance below.
        expected = log_cycle[col] + np.log(units)
        survive = 1.0 - ndtr((np.log(np.maximum(age, MIN_AGE_DAYS)) - expected) / sigma)
        repeats = np.bincount(col, weights=count - 1.0, minlength=n_items)
        chances = repeats + np.bincount(col, minlength=n_items)
        conversion = np.full(n_items, 0.5)
        for _ in range(iterations):
            p = conversion[col]
            alive = p * survive / np.maximum(1.0 - p + p * survive, 1e-12)
            successes = repeats + np.bincount(col, weights=alive, minlength=n_items)
            total = float(chances.sum())
            shop_rate = float(successes.sum() / total) if total else 0.0
            known = cat >= 0
            cat_s = np.bincount(cat[known], weights=successes[known], minlength=n_cat)
            cat_n = np.bincount(cat[known], weights=chances[known], minlength=n_cat)
            cat_rate = (cat_s + conversion_prior * shop_rate) / (cat_n + conversion_prior)
            prior_rate = np.where(known, cat_rate[np.maximum(cat, 0)] if n_cat else shop_rate, shop_rate)
            conversion = (successes + conversion_prior * prior_rate) / (chances + conversion_prior)
        return cls(log_cycle=log_cycle, conversion=conversion, sigma=sigma)

    def due(self, rows: UserRows, horizon_days: float, pair_prior: float = 1.0, *, per_order: bool = False) -> np.ndarray:
        """Per stored purchase entry of ``rows`` (order of ``purchases.tocoo()``): the probability
        that the user buys the item again within ``horizon_days`` from now, given no re-buy yet.
        ``per_order``: every line of an order (a user's purchases of one instant) is expected back
        together, at the mean of the lines' expected days, as where a basket runs out at once."""
        bought = rows.purchases.tocoo()
        col, count = bought.col, bought.data.astype(np.float64)
        age, units, gap = rows.purchase_timing()
        # The user's own gaps say the most about their pace; the item's cycle fills in.
        own = np.isfinite(gap)
        n_gaps = np.where(own, count - 1.0, 0.0)
        own_log = np.log(np.maximum(np.where(own, gap, 1.0), MIN_GAP_DAYS))
        log_cycle = (n_gaps * own_log + pair_prior * self.log_cycle[col]) / (n_gaps + pair_prior)
        expected = log_cycle + np.log(np.maximum(units, 1.0))
        if per_order and len(col):
            _, order = np.unique(np.stack((bought.row.astype(np.float64), age)), axis=1, return_inverse=True)
            order = order.ravel()
            expected = np.log(np.bincount(order, weights=np.exp(expected)) / np.bincount(order))[order]
        start = ndtr((np.log(np.maximum(age, MIN_AGE_DAYS)) - expected) / self.sigma)
        end = ndtr((np.log(age + horizon_days) - expected) / self.sigma)
        p = self.conversion[col]
        return p * (end - start) / np.maximum(1.0 - p + p * (1.0 - start), 1e-12)


@dataclass(frozen=True)
class History:
    """What the blend reads of a batch of users' rows, read once however many blends are tried."""

    seen_row: np.ndarray
    seen_col: np.ndarray
    seen: np.ndarray  # the user's confidence
    seen_peak: np.ndarray  # the user's best confidence, per seen entry
    bought_row: np.ndarray  # stored purchase entries (order of ``purchases.tocoo()``)
    bought_col: np.ndarray
    purchases: np.ndarray
    recency: np.ndarray  # same sparsity pattern as purchases

    @classmethod
    def of(cls, rows: UserRows) -> History:
        seen = rows.confidence.tocoo()
        peak = np.asarray(rows.confidence.max(axis=1).todense()).ravel()
        bought = rows.purchases.tocoo()
        return cls(seen.row, seen.col, seen.data, np.maximum(peak[seen.row], 1e-9), bought.row, bought.col,
                   bought.data, rows.recency.tocoo().data)


def blend(
    cf: np.ndarray, history: History | UserRows, propensity: np.ndarray, *,
    seen_weight: float, rebuy_weight: float, keep_cf: float, use_recency: bool,
    due: np.ndarray | None = None, due_weight: float = 0.0,
) -> np.ndarray:
    """Blend base scores with the users' own history (see the module docstring); ``due`` is
    ``RebuyTiming.due(rows, ...)`` (one value per stored purchase entry)."""
    h = history if isinstance(history, History) else History.of(history)
    out = row_max_normalise(cf)
    if seen_weight:
        out[h.seen_row, h.seen_col] += seen_weight * h.seen / h.seen_peak
    rebuy = propensity[h.bought_col] * (1.0 - np.exp2(-h.purchases))
    if use_recency:
        rebuy = rebuy * h.recency
    rebuy = rebuy_weight * rebuy
    if due is not None and due_weight:
        rebuy = rebuy + due_weight * due
    out[h.bought_row, h.bought_col] = keep_cf * out[h.bought_row, h.bought_col] + rebuy
    return out


class Hybrid(Algorithm):
    name = "hybrid"
    defaults: dict[str, Any] = {
        "base": "als",
        "base_params": {},
        "seen_weight": 0.25,
        "rebuy_weight": 1.0,
        "keep_cf": 1.0,
        "use_recency": True,
        "due_weight": 16.0,
        "horizon_days": 14.0,
        "prior_strength": 10.0,
        "cycle_prior": 2.0,
        "conversion_prior": 5.0,
    }

    def _make_base(self) -> Algorithm:
        from recommender.algorithms import make

        if self.params["base"] in ("hybrid", "buy_again", "popularity", "random"):
            raise ValueError("hybrid needs a collaborative-filtering base: als, ease, item_knn or user_knn")
        return make(self.params["base"], **dict(self.params["base_params"]))

    def _fit(self, data: UserItemData) -> None:
        with self.stage(f"base ({self.params['base']})"):
            self.base = self._make_base().fit(data)
        with self.stage("re-buy propensity and timing"):
            self.propensity = rebuy_propensity(data, self.params["prior_strength"])
            self.timing = RebuyTiming.fit(data, prior=float(self.params["cycle_prior"]),
                                          conversion_prior=float(self.params["conversion_prior"]))

    def due(self, rows: UserRows) -> np.ndarray:
        """How due each of the users' past purchases is (order of ``rows.purchases.tocoo()``)."""
        return self.timing.due(rows, float(self.params["horizon_days"]))

    def blend(self, cf: np.ndarray, rows: UserRows) -> np.ndarray:
        p = self.params
        due_weight = float(p["due_weight"])
        return blend(cf, rows, self.propensity, seen_weight=float(p["seen_weight"]),
                     rebuy_weight=float(p["rebuy_weight"]),
                     keep_cf=float(p["keep_cf"]), use_recency=bool(p["use_recency"]),
                     due=self.due(rows) if due_weight else None, due_weight=due_weight)

    def score(self, rows: UserRows) -> np.ndarray:
        return self.blend(self.base.score(rows), rows)

    def similar_items(self, item: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.base.similar_items(item, k)

    def state(self) -> dict[str, np.ndarray]:
        t = self.timing
        return {"propensity": self.propensity, "timing.log_cycle": t.log_cycle,
                "timing.conversion": t.conversion, "timing.sigma": np.array(t.sigma),
                **{f"base.{k}": v for k, v in self.base.state().items()}}

    def load_state(self, data: UserItemData, state: dict[str, np.ndarray]) -> None:
        super().load_state(data, state)
        self.propensity = state["propensity"]
        self.timing = RebuyTiming(log_cycle=state["timing.log_cycle"], conversion=state["timing.conversion"],
                                  sigma=float(state["timing.sigma"]))
        self.base = self._make_base()
        self.base.load_state(data, {k[5:]: v for k, v in state.items() if k.startswith("base.")})
