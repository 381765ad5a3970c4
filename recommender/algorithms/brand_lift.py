"""How much each user favours each brand, read from their views with a prior learned from the shop.

A shopper who likes a brand views its products more often than the brand's share of their
category predicts. With ``share`` the brand's share of its category's views shop-wide and ``a``
the user's log lift for the brand, each view the user makes in the category lands on the brand
with probability

    p(a) = share x e^a / (1 + share x (e^a - 1)),

so the user's views of the brand out of their views in the category are binomial in p(a).
Preferences are sparse: most (user, brand) pairs have no lift and a few a strong one. A smooth
ratio with pseudo-counts cannot express that (it either drowns the few strong lifts or inflates
every chance excess), so the lifts' distribution over a grid (``LIFTS``) is learned from the shop
itself (empirical Bayes: the maximum-likelihood mixture over the (user, brand) pairs that have
views in the brand's category), and a user's brand feature is the log of the posterior mean of
e^a given their views, less the prior's (0: no evidence either way).

A brand is read within a category ("brand group"), so a brand sold in several categories has a
share, and a lift, in each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import softmax

# Log lifts of a brand's view rate: 0 (no preference) to 2.5 (12 times the brand's share).
# Aversion is not modelled: a grid reaching below 0 did worse on the simulated shops (their users
# favour brands, never avoid them), and with the floor at 0 "no preference" is well identified.
LIFTS = np.linspace(0.0, 2.5, 11)
PRIOR_USERS = 5_000  # the prior is learned from at most this many (evenly spread) users: bounds time and memory


def brand_groups(brand: np.ndarray, category: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per item its (brand, category) group (-1 for items of unknown brand), and each group's category."""
    known = brand >= 0
    group = np.full(len(brand), -1, dtype=np.int64)
    if not known.any():
        return group, np.empty(0, dtype=np.int64)
    keys, inverse = np.unique(np.stack((brand[known], category[known]), axis=1), axis=0, return_inverse=True)
    group[known] = inverse.ravel()
    return group, keys[:, 1].astype(np.int64)


def group_onehot(group: np.ndarray, n_groups: int) -> sp.csr_matrix:
    """Items x brand groups indicator (items of unknown brand in none)."""
    known = np.flatnonzero(group >= 0)
    return sp.csr_matrix((np.ones(len(known)), (known, group[known])), shape=(len(group), n_groups))


def _log_likelihood(x: np.ndarray, n: np.ndarray, share: np.ndarray) -> np.ndarray:
    """log P(x of n views on the brand | lift) for each lift (last axis); constants dropped."""
    e = np.exp(LIFTS)
    p = np.clip(share[..., None] * e / (1.0 + share[..., None] * (e - 1.0)), 1e-12, 1.0 - 1e-12)
    return x[..., None] * np.log(p) + (n - x)[..., None] * np.log1p(-p)


def _counts(views: sp.csr_matrix, groups: sp.csr_matrix, group_category: np.ndarray,
            cat_onehot: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Dense users x brand groups: views of the group, and views in the group's category."""
    x = (views @ groups).toarray()
    n = (views @ cat_onehot).toarray()[:, group_category]
    return x, np.maximum(n, x)


def _mixture_weights(lik: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Maximum-likelihood weights of a mixture whose components' likelihoods are the columns of
    ``lik`` (rows weighted by ``count``). EM crawls when most mass sits on one component, so the
    weights are softmax(theta) and L-BFGS climbs the log-likelihood directly."""
    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = softmax(theta)
        mix = lik @ w
        grad_w = -(lik.T @ (count / mix))
        return float(-count @ np.log(mix)), w * (grad_w - w @ grad_w)

    result = minimize(loss_grad, np.zeros(lik.shape[1]), jac=True, method="L-BFGS-B",
                      bounds=[(-30.0, 30.0)] * lik.shape[1], options={"maxiter": 500, "ftol": 1e-12, "gtol": 1e-9})
    return softmax(result.x)


@dataclass(frozen=True)
class BrandLift:
    share: np.ndarray  # per brand group: its share of its category's views, shop-wide
    weights: np.ndarray  # prior probability of each of LIFTS
    group_category: np.ndarray  # per brand group: its category

    @classmethod
    def fit(cls, views: sp.csr_matrix, groups: sp.csr_matrix, group_category: np.ndarray,
            cat_onehot: sp.csr_matrix) -> BrandLift:
        """Brand shares and the lifts' prior from ``views`` (users x items view counts);
        ``groups`` and ``cat_onehot`` map items to brand groups (``group_onehot``) and categories."""
        n_groups = len(group_category)
        if n_groups == 0:
            return cls(np.empty(0), np.eye(len(LIFTS))[0], group_category)
        total = np.asarray(views.sum(axis=0)).ravel().astype(np.float64)
        group_views = np.asarray(groups.T @ total).ravel()
        cat_views = np.asarray(cat_onehot.T @ total).ravel()
        # Smoothed, so that a brand nobody viewed yet keeps a small positive share.
        share = np.clip((group_views + 0.5) / (cat_views[group_category] + 1.0), 1e-6, 1.0 - 1e-6)
        pick = np.unique(np.linspace(0, views.shape[0] - 1, min(PRIOR_USERS, views.shape[0])).astype(np.int64))
        x, n = _counts(views[pick], groups, group_category, cat_onehot)
        has = n > 0  # pairs without views in the category say nothing about the lift
        if not has.any():
            return cls(share, np.eye(len(LIFTS))[0], group_category)
        # Pairs with the same counts and brand share the same likelihood: fit on the distinct ones.
        groups = np.broadcast_to(np.arange(n_groups), x.shape)[has]
        distinct, weight = np.unique(np.stack((x[has], n[has], groups), axis=1), axis=0, return_counts=True)
        log_l = _log_likelihood(distinct[:, 0], distinct[:, 1], share[distinct[:, 2].astype(np.int64)])
        lik = np.exp(log_l - log_l.max(axis=1, keepdims=True))  # a constant per row: the same maximum
        return cls(share, _mixture_weights(lik, weight / weight.sum()), group_category)

    def log_lift(self, views: sp.csr_matrix, groups: sp.csr_matrix, cat_onehot: sp.csr_matrix) -> np.ndarray:
        """Users x brand groups: log E[e^a | the user's views] - log E[e^a] (0 without evidence)."""
        x, n = _counts(views, groups, self.group_category, cat_onehot)
        log_l = _log_likelihood(x, n, np.broadcast_to(self.share, x.shape))
        post = np.exp(log_l - log_l.max(axis=-1, keepdims=True)) * self.weights
        prior_mean = float(self.weights @ np.exp(LIFTS))
        return np.log((post @ np.exp(LIFTS)) / post.sum(axis=-1) / prior_mean)
