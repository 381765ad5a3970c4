"""Exact, vectorised sampling of products in proportion to popularity x exp(affinity).

A view of user u lands on product p with probability proportional to

    popularity[p] * exp(category_affinity[u, c(p)] + brand_affinity[u, b(p)]
                        + quality[p] - price_sensitivity[u] * log_relative_price[p]
                        + taste[u] . centre[k(p)])

where k(p) is the product's taste cluster (its taste vector is that cluster's centre). Three
facts make this cheap without approximation:

* price sensitivity takes one of a few grid values (``PRICE_SENSITIVITY_GRID``), so the
  per-product factor ``w_l[p] = popularity[p] * exp(quality[p] - s_l * log_relative_price[p])``
  can be tabulated for every grid level l;
* brand affinities are positive and sparse, so ``exp(brand_affinity)`` = 1 + (exp(a) - 1) on a
  liked brand: the distribution is a mixture of "a product of category c" and "a product of
  liked brand b", with weights computed per user (see ``world``);
* the taste term depends on the product only through its cluster, so inside a category (or a
  brand) a view first picks a cluster k with probability proportional to
  ``exp(taste[u] . centre[k]) * (mass of the cell (segment, k) under w_l)``, then a product of
  that cell under ``w_l``.

Products are stored twice, sorted by (category, cluster) and by (brand, cluster), so every
cell is a contiguous run of one of the two orders; each cell gets a Walker/Vose alias table
per level, and one draw costs one uniform number and a few array look-ups.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

# Price sensitivity of every user is one of these values (0.0, 0.1, ..., 2.5).
PRICE_SENSITIVITY_GRID = np.round(np.arange(26) * 0.1, 1)


def alias_table(weights: np.ndarray, total: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Vose's alias table of non-negative ``weights`` (not all zero; ``total`` their sum when
    known): (accept prob, alias index)."""
    n = len(weights)
    if n == 1:  # what the loop below gives one weight, without its arrays
        return np.ones(1), np.zeros(1, dtype=np.int64)
    scaled = (weights * (n / (weights.sum() if total is None else total))).tolist()
    prob = [1.0] * n
    alias = list(range(n))
    small = [i for i, q in enumerate(scaled) if q < 1.0]
    large = [i for i, q in enumerate(scaled) if q >= 1.0]
    while small and large:
        s = small.pop()
        g = large.pop()
        prob[s] = scaled[s]
        alias[s] = g
        scaled[g] = scaled[g] + scaled[s] - 1.0
        (small if scaled[g] < 1.0 else large).append(g)
    # Whatever is left is 1 up to rounding error.
    return np.asarray(prob), np.asarray(alias, dtype=np.int64)


@dataclass(frozen=True)
class SegmentTables:
    """Alias tables of every (price-sensitivity level, cell) over sorted product positions.

    Segments ``0..C-1`` are categories, ``C..C+B-1`` are brands (brand b is segment C + b);
    cell ``segment * K + k`` holds the segment's products of taste cluster k.
    """

    order: np.ndarray  # (2, M) product index at each sorted position: by category, by brand
    cell_start: np.ndarray  # first sorted position of each cell (in its segment kind's order)
    cell_len: np.ndarray  # number of products of each cell
    n_categories: int
    n_clusters: int
    prob: np.ndarray  # (levels * 2 * M,) acceptance probability; table 0 = categories, 1 = brands
    alias: np.ndarray  # (levels * 2 * M,) sorted position to take when rejected
    log_mass: np.ndarray  # (levels, C + B, K): log of the total weight of each cell
    # (levels, C + B, K): each cell's weight relative to its segment's heaviest cell, and the
    # log of that heaviest (0 for an empty segment): log_mass = log(cell_weight) + segment_top.
    cell_weight: np.ndarray
    segment_top: np.ndarray  # (levels, C + B)

    @cached_property
    def cell_weight_by_cluster(self) -> np.ndarray:
        """(K, levels * (C + B)) ``cell_weight`` with the cluster first: one cluster's weight of
        every (level, segment) is one contiguous row."""
        return np.ascontiguousarray(self.cell_weight.reshape(-1, self.n_clusters).T)

    @property
    def n_products(self) -> int:
        return self.order.shape[1]

    @property
    def seg_len(self) -> np.ndarray:
        """Number of products of each segment."""
        return self.cell_len.reshape(-1, self.n_clusters).sum(axis=1)

    def segment_log_mass(self) -> np.ndarray:
        """(levels, C + B) log of the total weight of each segment."""
        top = self.log_mass.max(axis=2, keepdims=True)
        safe = np.where(np.isfinite(top), top, 0.0)
        with np.errstate(divide="ignore"):
            return np.log(np.exp(self.log_mass - safe).sum(axis=2)) + safe[..., 0]

    def sample(self, cell: np.ndarray, level: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """One product index per row, drawn from ``cell`` under price level ``level``."""
        m = self.n_products
        x = uniform * self.cell_len[cell]
        j = x.astype(np.int64)
        frac = x - j  # the fractional part is a second, independent uniform
        j += self.cell_start[cell]
        kind = (cell // self.n_clusters >= self.n_categories).astype(np.int64)
        flat = (level.astype(np.int64) * 2 + kind) * m + j
        pos = np.where(frac < self.prob[flat], j, self.alias[flat])
        return self.order.reshape(-1)[kind * m + pos]


def build_segment_tables(
    category: np.ndarray,
    brand: np.ndarray,
    cluster: np.ndarray,
    n_categories: int,
    n_brands: int,
    n_clusters: int,
    popularity: np.ndarray,
    quality: np.ndarray,
    log_relative_price: np.ndarray,
) -> SegmentTables:
    """Tabulate ``popularity * exp(quality - s * log_relative_price)`` for every grid level s."""
    m = len(category)
    k = n_clusters
    n_seg = n_categories + n_brands
    orders = (np.lexsort((np.arange(m), cluster, category)), np.lexsort((np.arange(m), cluster, brand)))
    cell_of = (category * k + cluster, (n_categories + brand) * k + cluster)
    cell_start = np.zeros(n_seg * k, dtype=np.int64)
    cell_len = np.zeros(n_seg * k, dtype=np.int64)
    runs = []  # (table, cell, first position, length)
    for table, order in enumerate(orders):
        cells = cell_of[table][order]
        present, first, counts = np.unique(cells, return_index=True, return_counts=True)
        cell_start[present] = first
        cell_len[present] = counts
        runs.extend((table, int(c), int(a), int(n)) for c, a, n in zip(present, first, counts))

    levels = len(PRICE_SENSITIVITY_GRID)
    prob = np.ones((levels, 2, m))
    alias = np.tile(np.arange(m, dtype=np.int64), (levels, 2, 1))
    log_mass = np.full((levels, n_seg * k), -np.inf)
    for level, s in enumerate(PRICE_SENSITIVITY_GRID):
        w = popularity * np.exp(quality - s * log_relative_price)
        for table, order in enumerate(orders):
            w_sorted = w[order]
            for t, cell, a, n in runs:
                if t != table:
                    continue
                seg_w = w_sorted[a:a + n]
                total = seg_w.sum()
                p, al = alias_table(seg_w, total)
                prob[level, table, a:a + n] = p
                alias[level, table, a:a + n] = al + a
                log_mass[level, cell] = np.log(total)
    log_mass = log_mass.reshape(levels, n_seg, k)
    top = log_mass.max(axis=2)
    top = np.where(np.isfinite(top), top, 0.0)
    return SegmentTables(
        cell_weight=np.exp(log_mass - top[..., None]),
        segment_top=top,
        order=np.stack(orders).astype(np.int64),
        cell_start=cell_start,
        cell_len=cell_len,
        n_categories=n_categories,
        n_clusters=k,
        prob=prob.reshape(-1),
        alias=alias.reshape(-1),
        log_mass=log_mass,
    )
