"""Latent tastes: where users and products sit in a low-dimensional taste space, and which
products go together.

Style, genre or "what kind of thing this is" is not written in a category or a brand: two
shirts of one brand and price can appeal to different people. The taste space models that.

* Taste clusters (styles, genres) are random unit directions.
* Each category favours a few clusters and each brand one cluster, so a product's cluster is
  drawn from its brand's favourite half of the time and from its category's mixture otherwise:
  correlated with category and brand, determined by neither. A product's taste vector is its
  cluster's direction (that keeps the view sampler exact: ``simulator.sampling``).
* A user mixes one to three clusters (Dirichlet weights) plus a little noise, scaled so that
  the taste term ``user_taste . product_taste`` spreads over the catalogue with a standard
  deviation of ``params.taste_scale`` (times a per-user strength around 1).
* Complements: every product of a category with complement categories gets up to
  ``MAX_COMPLEMENTS`` products of those categories, the closest in taste of a few popular
  candidates (a phone's case matches the phone).
"""

from __future__ import annotations

import numpy as np

from simulator.blocks import user_blocks

MAX_COMPLEMENTS = 3
_USER_NOISE = 0.3
_COMPLEMENT_CANDIDATES = 6


def cluster_directions(n_clusters: int, dims: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((n_clusters, dims))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def product_tastes(
    category: np.ndarray, brand: np.ndarray, n_categories: int, n_brands: int,
    centres: np.ndarray, rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(taste vectors (M, d) float32, cluster index (M,)) of products."""
    k, d = centres.shape
    m = len(category)
    category_mix = rng.dirichlet(np.full(k, 0.5), size=max(n_categories, 1))
    brand_cluster = rng.integers(0, k, max(n_brands, 1))
    cdf = np.cumsum(category_mix[category], axis=1)
    from_category = np.minimum((cdf < rng.random(m)[:, None]).sum(axis=1), k - 1)
    cluster = np.where(rng.random(m) < 0.5, brand_cluster[brand], from_category)
    return centres[cluster].astype(np.float32), cluster.astype(np.int64)


def user_tastes(
    n: int, centres: np.ndarray, cluster_share: np.ndarray, taste_scale: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Taste vectors (n, d) float32 of users, each mixing one to three clusters."""
    k, d = centres.shape
    # One to three clusters (a repeat just adds weight to it) with Dirichlet weights.
    n_mixed = rng.integers(1, 4, n)
    picked = rng.integers(0, k, (n, 3))
    weights = rng.standard_exponential((n, 3), dtype=np.float32) * (np.arange(3) < n_mixed[:, None])
    noise = rng.standard_normal((n, d), dtype=np.float32)  # a small term: float32 is plenty
    strength = np.exp(0.3 * rng.standard_normal(n, dtype=np.float32))
    # float32 throughout: the vectors are stored so, and the scaling below needs no more.
    centres32 = centres.astype(np.float32)
    share32 = cluster_share.astype(np.float32)
    out = np.empty((n, d), dtype=np.float32)
    # A block of users at a time: small temporaries stay in cache.
    for b in user_blocks(n):
        w = weights[b] / weights[b].sum(axis=1, keepdims=True)
        raw = w[:, 0, None] * centres32[picked[b, 0]]
        for j in range(1, 3):  # a column at a time: far faster than an einsum over gathered (n, 3, d)
            raw += w[:, j, None] * centres32[picked[b, j]]
        raw += noise[b] * np.float32(_USER_NOISE / np.sqrt(d))
        # Scale every user so that their taste term spreads over the catalogue as taste_scale
        # (times a personal strength): its variance over products, whose clusters have shares
        # cluster_share, is the share-weighted variance of the user's cluster scores.
        score = raw @ centres32.T
        mean = score @ share32
        # (A floor keeps a catalogue of one cluster, where nobody's taste term varies, sane.)
        spread = np.sqrt(np.maximum((score * score) @ share32 - mean * mean, np.float32(0.04)))
        raw *= (np.float32(taste_scale) * strength[b] / spread)[:, None]
        out[b] = raw
    return out


def complements(
    category: np.ndarray, popularity: np.ndarray, product_taste: np.ndarray,
    complement_categories: list[list[int]], rng: np.random.Generator,
) -> np.ndarray:
    """(M, MAX_COMPLEMENTS) product indices of each product's complements, -1 = none."""
    m = len(category)
    out = np.full((m, MAX_COMPLEMENTS), -1, dtype=np.int64)
    for c, targets in enumerate(complement_categories):
        rows = np.flatnonzero(category == c)
        pool = np.flatnonzero(np.isin(category, targets))
        if len(rows) == 0 or len(pool) == 0:
            continue
        w = popularity[pool] / popularity[pool].sum()
        n_cand = min(_COMPLEMENT_CANDIDATES, len(pool))
        for slot in range(MAX_COMPLEMENTS):
            cand = pool[rng.choice(len(pool), size=(len(rows), n_cand), p=w)]
            fit = np.einsum("rd,rkd->rk", product_taste[rows], product_taste[cand])
            pick = cand[np.arange(len(rows)), fit.argmax(axis=1)]
            pick = np.where(pick == rows, -1, pick)  # never its own complement
            out[rows, slot] = pick
    # The same complement twice counts once.
    for j in range(1, MAX_COMPLEMENTS):
        repeat = (out[:, :j] == out[:, j:j + 1]).any(axis=1)
        out[repeat, j] = -1
    return -np.sort(-out, axis=1)  # the complements first, empty slots (-1) last
