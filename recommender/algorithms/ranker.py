"""The default model: a learned ranker that mixes what a user likes with what they are due to re-buy.

Where what drives a shopper is their own, stable taste (which categories, which brands, how
price-conscious) plus the clock of their consumables, the ranker models both directly, from the
user's row and the catalogue's metadata. Where the catalogue says little (one category, no brands,
one price), the signal is in which items go together, so an item-kNN score is a feature too; each
shop's data decides the weights, and features that are constant on a shop are dropped from the fit.

* taste: a softmax over all items of a linear score of a few features (``FEATURES``): the
  user's smoothed share of their visits that went to the item's category (visits, not views:
  one long visit is one interest, ``recommender.visits``), the item's share of its category's
  interest, how much the user favours the item's brand (the posterior lift of the brand's share
  of their views in its category, under a prior of lifts learned from the whole shop,
  ``brand_lift``), price fit (the user's price tilt, read from their views, times the item's
  relative price), the user's own history with the item (seen, bought, and owned: bought, scaled
  by how unlikely a re-buy of the item is), and the item-kNN score of the item for the user
  (cosine item-item similarity over the shop's interactions, scaled so the user's best is 1),
  both as it is and as its log (``cf_log``: inside the softmax the log makes the taste term a
  power of the kNN score, so its weight can sharpen the kNN order rather than only add to it);
  three more views of the same neighbourhoods, which the softmax weighs together: the log kNN
  score under BM25 item-item weights (which discount what everybody views), the log kNN score
  of only what the user carted or bought (what they chose, not everything they looked at), and
  the log kNN score relative to the user's mean over the item's category (which item of a
  category, apart from how much the user likes the category);
* re-buys: ``RebuyTiming`` (the hybrid's), the probability that a past purchase is bought
  again within ``horizon_days``, with its spread capped at ``rebuy_spread``; where an order's lines
  run out and come back together, part of it (``order_clock``, picked by likelihood with the
  weights) is read from the order's clock, the mean of its lines' expected days.

    score(u, i) = softmax(w . x(u, i)) + rho(u) x due(u, i),   rho(u) = exp(mix_bias + mix_activity x log1p(activity(u)))

that is, the chance that the next thing the user carts is i, from taste or from a re-buy; rho
weighs re-buys against taste by how much the user browses (a rare visitor comes for re-buys).
The weights are learned by maximum likelihood of the carts and purchases that follow a
cut-off (``fit_weights``, run by tuning.py on splits before the test window); ``defaults``
hold weights learned on the default simulated shop, for fits without tuning. On a catalogue of more
than ``SAMPLED_CANDIDATES`` items the softmax's normaliser in that likelihood is estimated per user
(a sampled softmax): their own items and the items of highest start logits counted exactly, the rest
by popularity-weighted draws, each weighted by the inverse of its chance (the log-Q correction), the
draws deterministic for a seed. The fit's cost then follows users rather than users x items, so a big
catalogue is learned from many users instead of the few whose every item's features fit in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import softmax

from recommender.algorithms.base import Algorithm, row_max_normalise
from recommender.algorithms.brand_lift import BrandLift, brand_groups, group_onehot
from recommender.algorithms.hybrid import RebuyTiming
from recommender.algorithms.neighbours import ItemKNN
from recommender.matrix import UserItemData, UserRows

FEATURES = ("category", "item", "brand", "price_fit", "price", "seen", "bought", "owned", "cf", "cf_log",
            "bm25_log", "chosen_cf_log", "cf_log_in_category")
MIX = ("mix_bias", "mix_activity")
# What learning the weights may cost: users x items of features computed (in chunks of CHUNK_CELLS), and users x
# candidates learned over (the L-BFGS arrays' memory); evenly spread users beyond either.
FIT_CELLS = 50_000_000
LEARN_CELLS = 4_000_000
CHUNK_CELLS = 2_000_000
# A catalogue of more items than SAMPLED_CANDIDATES is learned over a sampled softmax per user: their own items,
# the EXACT_TOP items of highest start logits, and SAMPLED_DRAWS draws (with replacement) of the rest.
SAMPLED_CANDIDATES = 2_000
EXACT_TOP = 100
SAMPLED_DRAWS = 400
MIN_CONVERSION = 1e-6  # floor of the learned re-buy chance, so that "owned" stays finite where nobody re-buys
ORDER_CLOCK_SHARES = (0.0, 0.5)  # what fit_weights tries as the share of the order's re-buy clock
CF_FLOOR = 1e-3  # added to the scaled kNN score before its log: items without kNN evidence stay finite (and low)


def _onehot(codes: np.ndarray, n: int) -> sp.csr_matrix:
    """Items x groups indicator; negative codes (unknown) belong to no group."""
    ok = codes >= 0
    return sp.csr_matrix((np.ones(int(ok.sum()), dtype=np.float32), (np.flatnonzero(ok), codes[ok])),
                         shape=(len(codes), max(n, 1)))


def _weighted_moments(values: np.ndarray, weights: np.ndarray, groups: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per item: the weighted mean and variance of ``values`` over the items of its group."""
    w = np.bincount(groups, weights=weights, minlength=n)
    safe = np.maximum(w, 1e-12)
    mean = np.bincount(groups, weights=weights * values, minlength=n) / safe
    var = np.bincount(groups, weights=weights * (values - mean[groups]) ** 2, minlength=n) / safe
    return mean[groups], var[groups]


def _log_relative_price(price: np.ndarray | None, category: np.ndarray) -> np.ndarray:
    """ln(price / median price of the item's category); 0 where unknown."""
    out = np.zeros(len(category))
    if price is None:
        return out
    logp = np.log(np.where(price > 0, price, np.nan))
    for c in np.unique(category):
        rows = (category == c) & np.isfinite(logp)
        if rows.any():
            out[rows] = logp[rows] - np.median(logp[rows])
    return out


def _log_scaled(scores: np.ndarray) -> np.ndarray:
    """ln of kNN scores scaled so that each user's best is 1 (plus ``CF_FLOOR``)."""
    return np.log(np.maximum(row_max_normalise(scores).astype(np.float64), 0.0) + CF_FLOOR)


class Ranker(Algorithm):
    name = "ranker"
    # What ``features`` returns and ``fit_weights`` learns a weight for (a subclass that reads more
    # features, such as benchmarks/ranker_features.py's candidates, names them here).
    feature_names: tuple[str, ...] = FEATURES
    defaults: dict[str, Any] = {
        "weights": {"category": 1.18, "item": 1.13, "brand": 0.66, "price_fit": 0.70, "price": -0.22,
                    "seen": 0.17, "bought": -0.08, "owned": -0.59, "cf": 0.0, "cf_log": 0.0,
                    "bm25_log": 0.0, "chosen_cf_log": 0.0, "cf_log_in_category": 0.0},
        "mix_bias": 5.39,
        "mix_activity": -0.94,
        "category_prior": 3.0,  # pseudo-visits pulling a user's category shares to the shop's
        "price_prior": 0.3,  # precision of the prior (no tilt) on a user's price tilt
        "horizon_days": 14.0,
        "cycle_prior": 2.0,
        "conversion_prior": 5.0,
        # The widest log spread of a re-buy's gap around its pair's cycle that the re-buy chance assumes: the
        # learned spread is wide where baskets come back at their lines' mean cycle rather than each
        # item's own, which smears every due date (benchmarks/rebuy_gap.py); a sharper clock ranks better.
        "rebuy_spread": 0.4,
        # The share of the re-buy chance read from the order's clock (``RebuyTiming.due(per_order=True)``)
        # rather than each item's own: where an order's lines run out and come back together, an item's
        # own cycle misplaces it. ``fit_weights`` picks it, of ``ORDER_CLOCK_SHARES``, by likelihood.
        "order_clock": 0.0,
        "cf_neighbours": 100,
        "dropped": (),  # features constant on the shop the weights were learned on (fixed at 0)
    }

    def __init__(self, **params: Any) -> None:
        if "brand_prior" in params:  # the parameter of the pseudo-count brand ratio this model replaced
            raise ValueError("this ranker's parameters predate the learned brand lifts and its weights do not "
                             "fit them; train a new model with `shop train`")
        super().__init__(**params)

    def _fit(self, data: UserItemData) -> None:
        with self.stage("category, brand and price statistics"):
            self._fit_catalogue(data)
        with self.stage("re-buy timing"):
            self.timing = RebuyTiming.fit(data, prior=float(self.params["cycle_prior"]),
                                          conversion_prior=float(self.params["conversion_prior"]))
            self.timing.sigma = min(self.timing.sigma, float(self.params["rebuy_spread"]))
        with self.stage("item-kNN"):
            self.neighbours = ItemKNN(neighbours=int(self.params["cf_neighbours"])).fit(data)
        with self.stage("item-kNN, BM25"):
            self.bm25 = ItemKNN(neighbours=int(self.params["cf_neighbours"]), similarity="bm25").fit(data)

    def _fit_catalogue(self, data: UserItemData) -> None:
        conf = data.confidence
        total = np.asarray(conf.sum(axis=0)).ravel().astype(np.float64)
        # Unknown categories share one extra group, so every item has a category share.
        cat = np.where(data.item_category >= 0, data.item_category, len(data.category_names)).astype(np.int64)
        n_cat = int(cat.max(initial=-1)) + 1
        self.cat_onehot = _onehot(cat, n_cat)
        cat_total = np.bincount(cat, weights=total, minlength=n_cat)
        cat_visits = np.bincount(cat, weights=np.asarray(data.visits.sum(axis=0)).ravel(), minlength=n_cat)
        # Laplace-smoothed, so that a category nobody visited yet keeps a finite (low) log share.
        self.cat_share = (cat_visits + 1.0) / (cat_visits.sum() + n_cat)
        self.item_in_cat = np.log((total + 0.5) / (cat_total[cat] + 0.5))
        self.cat = cat
        brand = data.item_brand if data.item_brand is not None else np.full(data.n_items, -1, dtype=np.int32)
        self.brand_group, group_category = brand_groups(brand.astype(np.int64), cat)
        self.group_onehot = group_onehot(self.brand_group, len(group_category))
        views = data.views
        self.brand_lift = BrandLift.fit(views, self.group_onehot, group_category, self.cat_onehot)
        self.lrp = _log_relative_price(data.item_price, cat)
        # Where views sit on each category's price scale, and how widely they spread.
        self.lrp_centre, self.lrp_var = _weighted_moments(self.lrp, np.asarray(views.sum(axis=0)).ravel(), cat, n_cat)

    # ------------------------------------------------------------------ features

    def features(self, rows: UserRows) -> dict[str, np.ndarray]:
        """Each feature of every (user, item) pair of ``rows`` (dense, users x items)."""
        p = self.params
        n, m = len(rows), len(self.cat)
        conf = rows.confidence
        # Category shares from visits.
        user_visits = np.asarray((rows.visits @ self.cat_onehot).todense())
        a = float(p["category_prior"])
        share = (user_visits + a * self.cat_share) / (user_visits.sum(axis=1, keepdims=True) + a)
        # Brand: the posterior lift of the brand in the user's views of its category (0 for
        # items of unknown brand); views are counts, as the lift's likelihood needs.
        views = rows.views
        brand = np.zeros((n, m))
        known = self.brand_group >= 0
        if known.any():
            lift = self.brand_lift.log_lift(views, self.group_onehot, self.cat_onehot)
            brand[:, known] = lift[:, self.brand_group[known]]
        # Price tilt: one Newton step of a per-user tilt exp(t x lrp) of each category's
        # views from t = 0, against a prior of precision price_prior; categories whose
        # prices spread little say little about it.
        tilt = (np.asarray(views @ (self.lrp - self.lrp_centre)).ravel()
                / (np.asarray(views @ self.lrp_var).ravel() + float(p["price_prior"])))
        bought = rows.purchases.toarray()
        cf = row_max_normalise(self.neighbours.score(rows)).astype(np.float64)
        cf_log = _log_scaled(cf)
        # The user's mean log kNN score over each category's items, to read each item against.
        per_category = (cf_log @ self.cat_onehot) / np.maximum(np.asarray(self.cat_onehot.sum(axis=0)), 1.0)
        chosen = (rows.carts + rows.purchases) @ self.neighbours.similarity
        return {
            "category": np.log(share)[:, self.cat],
            "item": np.broadcast_to(self.item_in_cat, (n, m)),
            "brand": brand,
            "price_fit": tilt[:, None] * self.lrp,
            "price": np.broadcast_to(self.lrp, (n, m)),
            "seen": conf.toarray(),
            "bought": np.log1p(bought),
            # Bought, by how surely it is not bought again (-ln of the learned re-buy chance): a
            # sofa one owns is never carted again, so it must sink far; a coffee's re-buy is the
            # timing term's business.
            "owned": (bought > 0) * -np.log(np.maximum(self.timing.conversion, MIN_CONVERSION)),
            "cf": cf,
            "cf_log": cf_log,
            "bm25_log": _log_scaled(self.bm25.score(rows)),
            "chosen_cf_log": _log_scaled(np.asarray(chosen.todense())),
            "cf_log_in_category": cf_log - np.asarray(per_category)[:, self.cat],
        }

    def due(self, rows: UserRows, order_clock: float | None = None) -> np.ndarray:
        """Dense users x items chance of a re-buy within the horizon (0 for items never bought);
        ``order_clock`` overrides the parameter of that name."""
        out = np.zeros((len(rows), len(self.cat)))
        bought = rows.purchases.tocoo()
        horizon = float(self.params["horizon_days"])
        share = float(self.params["order_clock"] if order_clock is None else order_clock)
        chance = self.timing.due(rows, horizon)
        if share > 0.0:
            chance = (1.0 - share) * chance + share * self.timing.due(rows, horizon, per_order=True)
        out[bought.row, bought.col] = chance
        return out

    @staticmethod
    def activity(rows: UserRows) -> np.ndarray:
        """How much the user browses: log1p of their total (time-decayed) interaction strength."""
        return np.log1p(np.asarray(rows.strength.sum(axis=1)).ravel())

    def _taste_logits(self, rows: UserRows) -> np.ndarray:
        weights = self.params["weights"]
        out = np.zeros((len(rows), len(self.cat)))
        for name, x in self.features(rows).items():
            out += float(weights.get(name, 0.0)) * x
        return out

    def score(self, rows: UserRows) -> np.ndarray:
        s = self._taste_logits(rows)
        taste = softmax(s, axis=1)
        rho = np.exp(float(self.params["mix_bias"]) + float(self.params["mix_activity"]) * self.activity(rows))
        return (taste + rho[:, None] * self.due(rows)).astype(np.float32)

    # ------------------------------------------------------------------ state

    def state(self) -> dict[str, np.ndarray]:
        t = self.timing
        b = self.brand_lift
        return {"cat": self.cat, "cat_share": self.cat_share, "item_in_cat": self.item_in_cat,
                "brand_group": self.brand_group, "brand_lift.share": b.share, "brand_lift.weights": b.weights,
                "brand_lift.group_category": b.group_category, "lrp": self.lrp,
                "lrp_centre": self.lrp_centre, "lrp_var": self.lrp_var, "timing.log_cycle": t.log_cycle,
                "timing.conversion": t.conversion, "timing.sigma": np.array(t.sigma),
                **{f"cf.{name}": value for name, value in self.neighbours.state().items()},
                **{f"bm25.{name}": value for name, value in self.bm25.state().items()}}

    def load_state(self, data: UserItemData, state: dict[str, np.ndarray]) -> None:
        if "lrp_centre" not in state or "brand_lift.weights" not in state or "bm25.sim_data" not in state:
            raise ValueError("this ranker artifact predates the visit-based features, the learned brand lifts or "
                             "the item-kNN features, and its weights do not fit them; train a new model with "
                             "`shop train`")
        super().load_state(data, state)
        self.cat, self.cat_share, self.item_in_cat = state["cat"], state["cat_share"], state["item_in_cat"]
        self.cat_onehot = _onehot(self.cat, len(self.cat_share))
        self.brand_group, self.lrp = state["brand_group"], state["lrp"]
        self.brand_lift = BrandLift(share=state["brand_lift.share"], weights=state["brand_lift.weights"],
                                    group_category=state["brand_lift.group_category"])
        self.group_onehot = group_onehot(self.brand_group, len(self.brand_lift.group_category))
        self.lrp_centre, self.lrp_var = state["lrp_centre"], state["lrp_var"]
        self.timing = RebuyTiming(log_cycle=state["timing.log_cycle"], conversion=state["timing.conversion"],
                                  sigma=float(state["timing.sigma"]))
        self.neighbours = ItemKNN(neighbours=int(self.params["cf_neighbours"]))
        self.neighbours.load_state(data, {name[3:]: value for name, value in state.items() if name.startswith("cf.")})
        self.bm25 = ItemKNN(neighbours=int(self.params["cf_neighbours"]), similarity="bm25")
        self.bm25.load_state(data, {name[5:]: value for name, value in state.items() if name.startswith("bm25.")})


@dataclass
class FitInputs:
    """What ``learn_weights`` learns from: per user of a cut-off, the candidate items the softmax is
    normalised over (every item of a small catalogue; on a big one, a sample: ``fit_inputs``), their
    features, each positive's weight (0 elsewhere), the re-buy chances, each candidate's log weight in
    the normaliser (0 for items counted exactly, ``-inf`` for padding) and the user's activity."""

    x: np.ndarray  # users x candidates x features
    y: np.ndarray  # users x candidates
    due: np.ndarray  # users x candidates
    z: np.ndarray  # users
    offset: np.ndarray | None = None  # users x candidates; None: every candidate counted exactly
    items: np.ndarray | None = None  # users x candidates: the item of each candidate (None: every item, in order)

    def __post_init__(self) -> None:
        if self.offset is None:
            self.offset = np.zeros(self.y.shape)

    def __add__(self, other: FitInputs) -> FitInputs:
        """Both cut-offs' users, learned from together (candidate lists padded to the longer)."""
        if self.items is None and other.items is None:  # both over every item: nothing to pad or gather
            return FitInputs(*(np.concatenate((getattr(self, name), getattr(other, name)))
                               for name in ("x", "y", "due", "z", "offset")))
        width = max(self.y.shape[1], other.y.shape[1])
        parts = [_padded(inputs, width) for inputs in (self, other)]
        return FitInputs(*(np.concatenate([getattr(p, name) for p in parts])
                           for name in ("x", "y", "due", "z", "offset", "items")))


def _padded(inputs: FitInputs, width: int) -> FitInputs:
    """``inputs`` with every user's candidates padded to ``width`` by candidates that weigh nothing."""
    n, have = inputs.y.shape
    items = inputs.items if inputs.items is not None else np.broadcast_to(np.arange(have), (n, have))
    pad = width - have
    if pad == 0:
        return replace(inputs, items=np.asarray(items))
    wide = lambda a, fill: np.pad(a, [(0, 0), (0, pad)] + [(0, 0)] * (a.ndim - 2), constant_values=fill)
    return FitInputs(wide(inputs.x, 0.0), wide(inputs.y, 0.0), wide(inputs.due, 0.0), inputs.z,
                     wide(inputs.offset, -np.inf), wide(np.asarray(items), 0))


def _learned_from(model: Ranker, rows: UserRows, positives: sp.csr_matrix) -> tuple[UserRows, sp.csr_matrix]:
    """The users (and their positives) the weights are learned from: at most ``FIT_CELLS`` users x items
    of features computed, and at most ``LEARN_CELLS`` users x candidates learned over."""
    m = max(len(model.cat), 1)
    most = max(min(FIT_CELLS // m, LEARN_CELLS // min(m, SAMPLED_CANDIDATES)), 100)
    if len(rows) > most:  # evenly spread users: deterministic, bounded memory
        pick = np.unique(np.linspace(0, len(rows) - 1, most).astype(np.int64))
        rows = replace(rows, **{f.name: getattr(rows, f.name)[pick] for f in fields(rows) if f.name != "folded"})
        positives = positives[pick]
    return rows, positives


def _proposal(model: Ranker) -> np.ndarray:
    """The chance of each item per draw of the sampled negatives: half by the item's share of the shop's
    interest (its share of its category's, times the category's share of visits), half uniform, so the
    long tail is drawn too."""
    interest = np.exp(model.item_in_cat) * model.cat_share[model.cat]
    return 0.5 * interest / interest.sum() + 0.5 / len(interest)


def _candidates(rows: UserRows, positives: sp.csr_matrix, logits: np.ndarray,
                proposal: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per user: the items the softmax's normaliser counts exactly (their positives, everything they
    interacted with, so every re-buy chance, and the ``EXACT_TOP`` items of highest ``logits``, where
    the mass is) and ``SAMPLED_DRAWS`` draws of the rest from ``proposal``, each standing for
    count / (draws x proposal) items (log-Q correction: an unbiased estimate of the rest's sum).
    Returns (items, log weights), padded with -inf weights."""
    n, m = logits.shape
    exact = (rows.confidence + rows.purchases + rows.carts + abs(positives)).toarray() != 0
    if m > EXACT_TOP:
        np.put_along_axis(exact, np.argpartition(-logits, EXACT_TOP - 1, axis=1)[:, :EXACT_TOP], True, axis=1)
    else:
        exact[:] = True
    drawn = rng.choice(m, size=(n, SAMPLED_DRAWS), p=proposal)
    counts = np.bincount((np.arange(n)[:, None] * m + drawn).ravel(), minlength=n * m).reshape(n, m)
    counts[exact] = 0  # counted exactly, so not again among the draws
    with np.errstate(divide="ignore"):
        weight = np.where(exact, 0.0, np.log(counts / (SAMPLED_DRAWS * proposal)))
    user, item = np.nonzero(exact | (counts > 0))
    per_user = np.bincount(user, minlength=n)
    place = np.arange(len(user)) - np.repeat(np.cumsum(per_user) - per_user, per_user)
    items = np.zeros((n, int(per_user.max(initial=1))), dtype=np.int64)
    offset = np.full(items.shape, -np.inf)
    items[user, place], offset[user, place] = item, weight[user, item]
    return items, offset


def _user_chunks(rows: UserRows, n_items: int) -> list[slice]:
    """Slices of users whose dense features (``CHUNK_CELLS`` users x items each) are held at once."""
    step = max(CHUNK_CELLS // max(n_items, 1), 1)
    return [slice(start, min(start + step, len(rows))) for start in range(0, len(rows), step)]


def _rows_of(rows: UserRows, part: slice) -> UserRows:
    return replace(rows, **{f.name: getattr(rows, f.name)[part] for f in fields(rows) if f.name != "folded"})


def fit_inputs(model: Ranker, rows: UserRows, positives: sp.csr_matrix, *, seed: int = 0) -> FitInputs:
    """``model``'s (fitted before a cut-off) inputs for the users of ``rows`` and what they carted or
    bought after it (``positives``; a stored value weighs its positive). On a catalogue of more than
    ``SAMPLED_CANDIDATES`` items the softmax runs over each user's sampled candidates (``_candidates``;
    the draws are deterministic for ``seed``), so that the fit's cost follows users, not users x items."""
    rows, positives = _learned_from(model, rows, positives)
    m = len(model.cat)
    if m <= SAMPLED_CANDIDATES:  # every item, counted exactly
        feats = model.features(rows)
        x = np.stack([feats[name] for name in model.feature_names], axis=-1)
        del feats
        return FitInputs(x, positives.toarray(), model.due(rows), model.activity(rows))
    rng = np.random.default_rng(seed)
    proposal = _proposal(model)
    weights = np.array([float(model.params["weights"].get(name, 0.0)) for name in model.feature_names])
    parts = []
    for part in _user_chunks(rows, m):
        chunk, chosen = _rows_of(rows, part), positives[part]
        named = model.features(chunk)
        feats = [named[name] for name in model.feature_names]
        del named
        logits = sum(w * f for w, f in zip(weights, feats) if w != 0.0)
        items, offset = _candidates(chunk, chosen, np.broadcast_to(logits, (len(chunk), m)), proposal, rng)
        # Each feature gathered on its own: stacking the dense users x items x features would cost more
        # than everything else here.
        x = np.stack([np.take_along_axis(np.broadcast_to(f, (len(chunk), m)), items, axis=1) for f in feats], axis=-1)
        del feats
        parts.append(FitInputs(x, _at_candidates(chosen.toarray(), items, offset),
                               _at_candidates(model.due(chunk), items, offset),
                               model.activity(chunk), offset, items))
    out = parts[0]
    for more in parts[1:]:
        out = out + more
    return out


def _at_candidates(dense: np.ndarray, items: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """``dense``'s (users x items) values at each user's candidates; 0 at the padding."""
    return np.where(np.isfinite(offset), np.take_along_axis(dense, items, axis=1), 0.0)


def _due_at(model: Ranker, rows: UserRows, inputs: FitInputs, share: float) -> np.ndarray:
    """The re-buy chances of ``inputs``' candidates at the order clock's ``share``."""
    if inputs.items is None:
        return model.due(rows, order_clock=share)
    return np.concatenate([_at_candidates(model.due(_rows_of(rows, part), order_clock=share), inputs.items[part],
                                          inputs.offset[part]) for part in _user_chunks(rows, len(model.cat))])


def fit_weights(model: Ranker, rows: UserRows, positives: sp.csr_matrix, *, l2: float = 1e-3) -> dict[str, Any]:
    """Feature weights and mix of ``model`` (fitted on the data before a cut-off) that maximise
    the likelihood of ``positives`` (what ``rows``' users carted or bought after it):
    P(i | u) = (softmax_i(w . x) + rho_u due_ui) / (1 + rho_u sum_j due_uj); and the share of the
    order's re-buy clock in due (of ``ORDER_CLOCK_SHARES``) under which that likelihood is highest."""
    rows, positives = _learned_from(model, rows, positives)
    inputs = fit_inputs(model, rows, positives)
    if not inputs.due.any():  # nothing re-bought: every share gives the same chances
        return {**learn_weights(model, inputs, l2=l2), "order_clock": 0.0}
    best: tuple[float, dict[str, Any]] | None = None
    own_share, own_due = float(model.params["order_clock"]), inputs.due  # fit_inputs' due is at the model's share
    for share in ORDER_CLOCK_SHARES:
        inputs.due = own_due if share == own_share else _due_at(model, rows, inputs, share)
        learned, loss = _maximum_likelihood(model, inputs, l2)
        if best is None or loss < best[0] - 1e-9:  # ties keep the smaller share
            best = (loss, {**learned, "order_clock": share})
    return best[1]


def learn_weights(model: Ranker, inputs: FitInputs, *, l2: float | np.ndarray = 1e-3) -> dict[str, Any]:
    """``fit_weights``' maximum likelihood over ``inputs`` (one cut-off's, or several added up); ``l2``
    penalises every feature's weight alike, or each by its own entry (in ``feature_names`` order)."""
    return _maximum_likelihood(model, inputs, l2)[0]


def _maximum_likelihood(model: Ranker, inputs: FitInputs, l2: float | np.ndarray) -> tuple[dict[str, Any], float]:
    """``learn_weights``' weights, and the penalised negative log likelihood per positive they reach."""
    names = model.feature_names
    x, due, z, offset = inputs.x, inputs.due, inputs.z, inputs.offset
    # A feature that is the same for every item of every user cannot move a softmax over items: its
    # weight is fixed at 0 and the feature named as dropped (one category, no brands, one price).
    real = np.isfinite(offset)
    varies = [bool(((np.where(real, x[..., j], -np.inf).max(axis=1) - np.where(real, x[..., j], np.inf).min(axis=1))
                    > 1e-9).any()) for j in range(x.shape[-1])]
    y = inputs.y > 0
    weight = inputs.y[y]  # of each positive
    n_pos = max(float(weight.sum()), 1.0)
    # Re-buy chances are non-zero only at bought items, which are always candidates: their sum is exact.
    due_sum = due.sum(axis=1)
    k = len(names)
    pos_x = x[y]  # (positives, k)
    pos_user = np.nonzero(y)[0]

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b0, b1 = theta[:k], theta[k], theta[k + 1]
        s = x @ w + offset  # a sampled candidate stands for the items it was drawn for
        q = softmax(s, axis=1)
        rho = np.exp(b0 + b1 * z)
        a = q[y] + rho[pos_user] * due[y]  # numerators at the positives
        norm = 1.0 + rho * due_sum
        loss = -((weight * np.log(a)).sum() - (weight * np.log(norm[pos_user])).sum()) / n_pos + l2 * w @ w
        # d log a / d w = q (x - mean_q x) / a ; d log a / d log rho = rho due / a
        qa = weight * q[y] / a
        mean_x = np.einsum("nm,nmk->nk", q, x)
        grad_w = -(qa[:, None] * (pos_x - mean_x[pos_user])).sum(axis=0) / n_pos + 2 * l2 * w
        d_rho = weight * (rho[pos_user] * due[y] / a - rho[pos_user] * due_sum[pos_user] / norm[pos_user])
        grad_b = -np.array([d_rho.sum(), (d_rho * z[pos_user]).sum()]) / n_pos
        return float(loss), np.concatenate((grad_w, grad_b))

    p = model.params
    start = np.array([p["weights"].get(f, 0.0) if v else 0.0 for f, v in zip(names, varies)]
                     + [p["mix_bias"], p["mix_activity"]], dtype=np.float64)
    bounds = [(None, None) if v else (0.0, 0.0) for v in varies] + [(-20.0, 20.0), (-5.0, 5.0)]
    result = minimize(loss_grad, start, jac=True, method="L-BFGS-B", bounds=bounds)
    theta = result.x
    return {"weights": {f: round(float(v), 4) for f, v in zip(names, theta[:k])},
            "mix_bias": round(float(theta[k]), 4), "mix_activity": round(float(theta[k + 1]), 4),
            "dropped": [f for f, v in zip(names, varies) if not v]}, float(result.fun)
