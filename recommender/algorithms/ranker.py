"""The default model: a learned ranker that mixes what a user likes with what they are due to re-buy.

Collaborative filtering adds little when what drives a shopper is their own, stable taste
(which categories, which brands, how price-conscious) plus the clock of their consumables. So
the ranker models both directly, from the user's row and the catalogue's metadata:

* taste: a softmax over all items of a linear score of a few features (``FEATURES``): the
  user's smoothed share of interest in the item's category, the item's share of its
  category's interest, the user's lift for the item's brand, price fit (how the user's usual
  price level meets the item's), the user's own history with the item (seen, bought);
* re-buys: ``RebuyTiming`` (the hybrid's), the probability that a past purchase is bought
  again within ``horizon_days``.

    score(u, i) = softmax(w . x(u, i)) + rho(u) x due(u, i),   rho(u) = exp(mix_bias + mix_activity x log1p(activity(u)))

that is, the chance that the next thing the user carts is i, from taste or from a re-buy; rho
weighs re-buys against taste by how much the user browses (a rare visitor comes for re-buys).
The weights are learned by maximum likelihood of the carts and purchases that follow a
cut-off (``fit_weights``, run by tuning.py on splits before the test window); ``defaults``
hold weights learned on the default simulated shop, for fits without tuning.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import logsumexp

from recommender.algorithms.base import Algorithm
from recommender.algorithms.hybrid import RebuyTiming
from recommender.matrix import UserItemData, UserRows

FEATURES = ("category", "item", "brand", "price_fit", "price", "seen", "bought")
MIX = ("mix_bias", "mix_activity")
FIT_CELLS = 4_000_000  # users x items learned from at most (evenly spread users): bounds memory (~250 MB)


def _onehot(codes: np.ndarray, n: int) -> sp.csr_matrix:
    """Items x groups indicator; negative codes (unknown) belong to no group."""
    ok = codes >= 0
    return sp.csr_matrix((np.ones(int(ok.sum()), dtype=np.float32), (np.flatnonzero(ok), codes[ok])),
                         shape=(len(codes), max(n, 1)))


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


class Ranker(Algorithm):
    name = "ranker"
    defaults: dict[str, Any] = {
        "weights": {"category": 1.0, "item": 1.05, "brand": 0.2, "price_fit": 1.5, "price": -0.2,
                    "seen": 0.2, "bought": -0.15},
        "mix_bias": 5.0,
        "mix_activity": -1.0,
        "category_prior": 3.0,  # pseudo-interactions pulling a user's category shares to the shop's
        "brand_prior": 2.0,  # ... their brand shares inside a category to the category's
        "price_prior": 3.0,  # ... their price level to the shop's
        "horizon_days": 14.0,
        "cycle_prior": 2.0,
        "conversion_prior": 5.0,
    }

    def _fit(self, data: UserItemData) -> None:
        conf = data.confidence
        total = np.asarray(conf.sum(axis=0)).ravel().astype(np.float64)
        # Unknown categories share one extra group, so every item has a category share.
        cat = np.where(data.item_category >= 0, data.item_category, len(data.category_names)).astype(np.int64)
        n_cat = int(cat.max(initial=-1)) + 1
        self.cat_onehot = _onehot(cat, n_cat)
        cat_total = np.bincount(cat, weights=total, minlength=n_cat)
        # Laplace-smoothed, so that a category nobody touched yet keeps a finite (low) log share.
        self.cat_share = (cat_total + 1.0) / (cat_total.sum() + n_cat)
        self.item_in_cat = np.log((total + 0.5) / (cat_total[cat] + 0.5))
        self.cat = cat
        brand = data.item_brand if data.item_brand is not None else np.full(data.n_items, -1, dtype=np.int32)
        self.brand = brand.astype(np.int64)
        self.brand_onehot = _onehot(self.brand, int(self.brand.max(initial=-1)) + 1)
        brand_total = np.asarray(self.brand_onehot.T @ total).ravel()
        self.brand_in_cat = np.where(self.brand >= 0, (brand_total[np.maximum(self.brand, 0)] + 0.5)
                                     / (cat_total[cat] + 0.5), 1.0)
        self.lrp = _log_relative_price(data.item_price, cat)
        self.shop_lrp = float((total * self.lrp).sum() / max(total.sum(), 1e-12))
        self.timing = RebuyTiming.fit(data, prior=float(self.params["cycle_prior"]),
                                      conversion_prior=float(self.params["conversion_prior"]))

    # ------------------------------------------------------------------ features

    def features(self, rows: UserRows) -> dict[str, np.ndarray]:
        """Each feature of every (user, item) pair of ``rows`` (dense, users x items)."""
        p = self.params
        n, m = len(rows), len(self.cat)
        conf = rows.confidence
        user_cat = np.asarray((conf @ self.cat_onehot).todense())
        user_total = user_cat.sum(axis=1, keepdims=True)
        a = float(p["category_prior"])
        share = (user_cat + a * self.cat_share) / (user_total + a)
        mass_in_cat = user_cat[:, self.cat]
        b = float(p["brand_prior"])
        user_brand = np.asarray((conf @ self.brand_onehot).todense())[:, np.maximum(self.brand, 0)]
        brand = np.log((user_brand + b * self.brand_in_cat) / (mass_in_cat + b)) - np.log(self.brand_in_cat)
        brand[:, self.brand < 0] = 0.0
        g = float(p["price_prior"])
        user_lrp = (np.asarray(conf @ self.lrp).ravel()[:, None] + g * self.shop_lrp) / (user_total + g)
        return {
            "category": np.log(share)[:, self.cat],
            "item": np.broadcast_to(self.item_in_cat, (n, m)),
            "brand": brand,
            "price_fit": (user_lrp - self.shop_lrp) * self.lrp,
            "price": np.broadcast_to(self.lrp, (n, m)),
            "seen": conf.toarray(),
            "bought": np.log1p(rows.purchases.toarray()),
        }

    def due(self, rows: UserRows) -> np.ndarray:
        """Dense users x items chance of a re-buy within the horizon (0 for items never bought)."""
        out = np.zeros((len(rows), len(self.cat)))
        bought = rows.purchases.tocoo()
        out[bought.row, bought.col] = self.timing.due(rows, float(self.params["horizon_days"]),
                                                      self._fitted().config.rebuy_half_life_days)
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
        taste = np.exp(s - logsumexp(s, axis=1, keepdims=True))
        rho = np.exp(float(self.params["mix_bias"]) + float(self.params["mix_activity"]) * self.activity(rows))
        return (taste + rho[:, None] * self.due(rows)).astype(np.float32)

    # ------------------------------------------------------------------ state

    def state(self) -> dict[str, np.ndarray]:
        t = self.timing
        return {"cat": self.cat, "cat_share": self.cat_share, "item_in_cat": self.item_in_cat,
                "brand": self.brand, "brand_in_cat": self.brand_in_cat, "lrp": self.lrp,
                "shop_lrp": np.array(self.shop_lrp), "timing.log_cycle": t.log_cycle,
                "timing.conversion": t.conversion, "timing.sigma": np.array(t.sigma)}

    def load_state(self, data: UserItemData, state: dict[str, np.ndarray]) -> None:
        super().load_state(data, state)
        self.cat, self.cat_share, self.item_in_cat = state["cat"], state["cat_share"], state["item_in_cat"]
        self.cat_onehot = _onehot(self.cat, len(self.cat_share))
        self.brand, self.brand_in_cat, self.lrp = state["brand"], state["brand_in_cat"], state["lrp"]
        self.brand_onehot = _onehot(self.brand, int(self.brand.max(initial=-1)) + 1)
        self.shop_lrp = float(state["shop_lrp"])
        self.timing = RebuyTiming(log_cycle=state["timing.log_cycle"], conversion=state["timing.conversion"],
                                  sigma=float(state["timing.sigma"]))


def fit_weights(model: Ranker, rows: UserRows, positives: sp.csr_matrix, *, l2: float = 1e-3) -> dict[str, Any]:
    """Feature weights and mix of ``model`` (fitted on the data before a cut-off) that maximise
    the likelihood of ``positives`` (what ``rows``' users carted or bought after it):
    P(i | u) = (softmax_i(w . x) + rho_u due_ui) / (1 + rho_u sum_j due_uj)."""
    most = max(FIT_CELLS // max(len(model.cat), 1), 100)
    if len(rows) > most:  # evenly spread users: deterministic, bounded memory
        pick = np.unique(np.linspace(0, len(rows) - 1, most).astype(np.int64))
        rows = replace(rows, **{f.name: getattr(rows, f.name)[pick] for f in fields(rows)
                                if f.name != "folded" and getattr(rows, f.name) is not None})
        positives = positives[pick]
    feats = model.features(rows)
    x = np.stack([feats[name] for name in FEATURES], axis=-1)
    del feats
    y = positives.toarray() > 0
    n_pos = max(int(y.sum()), 1)
    due = model.due(rows)
    due_sum = due.sum(axis=1)
    z = model.activity(rows)
    k = len(FEATURES)
    pos_x = x[y]  # (positives, k)
    pos_user = np.nonzero(y)[0]

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b0, b1 = theta[:k], theta[k], theta[k + 1]
        s = x @ w
        q = np.exp(s - logsumexp(s, axis=1, keepdims=True))
        rho = np.exp(b0 + b1 * z)
        a = q[y] + rho[pos_user] * due[y]  # numerators at the positives
        norm = 1.0 + rho * due_sum
        loss = -(np.log(a).sum() - np.log(norm[pos_user]).sum()) / n_pos + l2 * w @ w
        # d log a / d w = q (x - mean_q x) / a ; d log a / d log rho = rho due / a
        qa = q[y] / a
        mean_x = np.einsum("nm,nmk->nk", q, x)
        grad_w = -(qa[:, None] * (pos_x - mean_x[pos_user])).sum(axis=0) / n_pos + 2 * l2 * w
        d_rho = rho[pos_user] * due[y] / a - rho[pos_user] * due_sum[pos_user] / norm[pos_user]
        grad_b = -np.array([d_rho.sum(), (d_rho * z[pos_user]).sum()]) / n_pos
        return float(loss), np.concatenate((grad_w, grad_b))

    p = model.params
    start = np.array([p["weights"].get(f, 0.0) for f in FEATURES] + [p["mix_bias"], p["mix_activity"]], dtype=np.float64)
    result = minimize(loss_grad, start, jac=True, method="L-BFGS-B",
                      bounds=[(None, None)] * k + [(-20.0, 20.0), (-5.0, 5.0)])
    theta = result.x
    return {"weights": {f: round(float(v), 4) for f, v in zip(FEATURES, theta[:k])},
            "mix_bias": round(float(theta[k]), 4), "mix_activity": round(float(theta[k + 1]), 4)}
