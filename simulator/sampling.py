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
cell is a contiguous run of one of the two orders. Each cell holds, per level, the cumulative
share of its products' weights and a guide table (Chen's indexed search): guide entry j of a
cell of n products is the first product whose cumulative share exceeds j / n, so a draw
starts at the guide entry of ``floor(u * n)`` and steps forward while ``u`` is past the
product's cumulative share (fewer than two steps on average). Unlike alias tables, every
table is built by a few array operations over the whole catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

# Price sensitivity of every user is one of these values (0.0, 0.1, ..., 2.5).
PRICE_SENSITIVITY_GRID = np.round(np.arange(26) * 0.1, 1)


@dataclass(frozen=True)
class SegmentTables:
    """Cumulative shares and guide tables of every (price-sensitivity level, cell) over sorted
    product positions.

    Segments ``0..C-1`` are categories, ``C..C+B-1`` are brands (brand b is segment C + b);
    cell ``segment * K + k`` holds the segment's products of taste cluster k.
    """

    order: np.ndarray  # (2, M) product index at each sorted position: by category, by brand
    cell_start: np.ndarray  # first sorted position of each cell (in its segment kind's order)
    cell_len: np.ndarray  # number of products of each cell
    n_categories: int
    n_clusters: int
    # (levels * 2 * M,) per sorted position, table 0 = categories, 1 = brands: the cumulative
    # share of the cell's weight up to and including this product (exactly 1 on its last)...
    cumulative: np.ndarray
    guide: np.ndarray  # ... and the sorted position where a draw of the cell's j-th n-th starts
    log_mass: np.ndarray  # (levels, C + B, K): log of the total weight of each cell
    # (levels, C + B, K): each cell's weight relative to its segment's heaviest cell, and the
    # log of that heaviest (0 for an empty segment): log_mass = log(cell_weight) + segment_top.
    cell_weight: np.ndarray
    segment_top: np.ndarray  # (levels, C + B)

    @cached_property
    def cell_weight_by_cluster(self) -> np.ndarray:
        """(K, levels * (C + B)) ``cell_weight`` with the cluster first: one cluster's weight of
        every (level, segment) is one contiguous row; float32, as the sessions' cluster scores
        (a choice among a few clusters needs no finer weights, and half the bytes go faster)."""
        return np.ascontiguousarray(self.cell_weight.reshape(-1, self.n_clusters).T, dtype=np.float32)

    @cached_property
    def cell_first(self) -> np.ndarray:
        """Where each cell starts among a level's ``2 * M`` sorted positions (the category
        order, then the brand order): its table's offset plus its start in that table."""
        kind = np.arange(len(self.cell_len)) // self.n_clusters >= self.n_categories
        return kind.astype(np.int64) * self.n_products + self.cell_start

    @cached_property
    def guide_in_level(self) -> np.ndarray:
        """``guide`` as positions among a level's ``2 * M`` (the brand table's entries moved
        past the category table's): a draw's position is then one look-up from its level."""
        m = self.n_products
        return (self.guide.reshape(-1, 2, m) + np.array([0, m])[:, None]).reshape(-1)

    @cached_property
    def cell_weight32(self) -> np.ndarray:
        """``cell_weight`` in float32, for the users' interest tables (stored in float32)."""
        return self.cell_weight.astype(np.float32)

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
        level_start = np.multiply(level, 2 * self.n_products, dtype=np.int64)
        j = (uniform * self.cell_len[cell]).astype(np.int64)
        flat = level_start + self.guide_in_level[level_start + self.cell_first[cell] + j]
        # Step forward while the uniform is past the product's cumulative share; a cell's last
        # share is 1, so no draw leaves its cell.
        behind = np.flatnonzero(uniform >= self.cumulative[flat])
        while len(behind):
            flat[behind] += 1
            behind = behind[uniform[behind] >= self.cumulative[flat[behind]]]
        flat -= level_start
        return self.order.reshape(-1)[flat]


def lognormal32(rng: np.random.Generator, mean: float, sigma: float, n: int) -> np.ndarray:
    """``n`` log-normal draws (float64 values of float32 draws): the same law as
    ``rng.lognormal`` at about half the cost, for delays and gaps that need no finer steps."""
    x = rng.standard_normal(n, dtype=np.float32)
    x *= np.float32(sigma)
    x += np.float32(mean)
    return np.exp(x).astype(np.float64)


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
    runs = []  # per table: (its cells in order, their first positions, their lengths)
    for table, order in enumerate(orders):
        cells = cell_of[table][order]
        present, first, counts = np.unique(cells, return_index=True, return_counts=True)
        cell_start[present] = first
        cell_len[present] = counts
        runs.append((present, first, counts))

    levels = len(PRICE_SENSITIVITY_GRID)
    weight = popularity * np.exp(quality - PRICE_SENSITIVITY_GRID[:, None] * log_relative_price)
    cumulative = np.empty((levels, 2, m))
    guide = np.empty((levels, 2, m), dtype=np.int64)
    log_mass = np.full((levels, n_seg * k), -np.inf)
    for table, order in enumerate(orders):
        cell, first, count = runs[table]
        rank = np.repeat(np.arange(len(cell)), count)  # each position's cell, counted in this order
        last = first + count - 1
        w = weight[:, order]
        total = np.add.reduceat(w, first, axis=1)
        log_mass[:, cell] = np.log(total)
        # Shares normalised per cell, then one running sum over the whole order: the position
        # of cell r runs over (r, r + 1], and its fractional part is the cumulative share.
        share = np.cumsum(w / total[:, rank], axis=1) - rank
        share[:, last] = 1.0
        cumulative[:, table] = share
        # Guide entry j of a cell: the first position whose share exceeds j / n (a hair less,
        # so that rounding never starts a draw past its product), kept inside the cell.
        j = np.arange(m) - first[rank]
        target = rank + j / count[rank] - 1e-9
        for level in range(levels):
            found = np.searchsorted(share[level] + rank, target, side="right")
            guide[level, table] = np.clip(found, first[rank], last[rank])
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
        cumulative=cumulative.reshape(-1),
        guide=guide.reshape(-1),
        log_mass=log_mass,
    )
