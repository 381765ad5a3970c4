"""Exact, vectorised sampling of products in proportion to popularity x exp(taste).

A view of user u lands on product p with probability proportional to

    popularity[p] * exp(category_affinity[u, c(p)] + brand_affinity[u, b(p)]
                        + quality[p] - price_sensitivity[u] * log_relative_price[p])

Two facts make this cheap without approximation:

* price sensitivity takes one of a few grid values (``PRICE_SENSITIVITY_GRID``), so the
  per-product factor ``w_l[p] = popularity[p] * exp(quality[p] - s_l * log_relative_price[p])``
  can be tabulated for every grid level l;
* brand affinities are positive and sparse, so ``exp(brand_affinity)`` = 1 + (exp(a) - 1) on a
  liked brand: the distribution is a mixture of "a product of category c under w_l" and "a
  product of liked brand b under w_l", with weights computed per user (see ``world``).

Products are stored sorted by (category, brand), so every category and every brand is a
contiguous segment; each segment gets a Walker/Vose alias table per level, and one draw costs
one uniform number and two array look-ups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Price sensitivity of every user is one of these values (0.0, 0.1, ..., 2.5).
PRICE_SENSITIVITY_GRID = np.round(np.arange(26) * 0.1, 1)


def alias_table(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vose's alias table of non-negative ``weights`` (not all zero): (accept prob, alias index)."""
    n = len(weights)
    scaled = (weights * (n / weights.sum())).tolist()
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
    """Alias tables of every (price-sensitivity level, segment) over sorted product positions.

    Segments ``0..C-1`` are categories, ``C..C+B-1`` are brands (brand b is segment C + b).
    """

    order: np.ndarray  # product index at each sorted position
    seg_start: np.ndarray  # first sorted position of each segment
    seg_len: np.ndarray  # number of products of each segment (0 for an empty category)
    n_categories: int
    prob: np.ndarray  # (levels * 2 * M,) acceptance probability; table 0 = categories, 1 = brands
    alias: np.ndarray  # (levels * 2 * M,) sorted position to take when rejected
    log_mass: np.ndarray  # (levels, C + B): log of the total weight of each segment

    @property
    def n_products(self) -> int:
        return len(self.order)

    def sample(self, segment: np.ndarray, level: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """One product index per row, drawn from ``segment`` under price level ``level``."""
        m = self.n_products
        x = uniform * self.seg_len[segment]
        j = x.astype(np.int64)
        frac = x - j  # the fractional part is a second, independent uniform
        j += self.seg_start[segment]
        table = level.astype(np.int64) * 2 + (segment >= self.n_categories)
        flat = table * m + j
        pos = np.where(frac < self.prob[flat], j, self.alias[flat])
        return self.order[pos]


def build_segment_tables(
    category: np.ndarray,
    brand: np.ndarray,
    n_categories: int,
    n_brands: int,
    popularity: np.ndarray,
    quality: np.ndarray,
    log_relative_price: np.ndarray,
) -> SegmentTables:
    """Tabulate ``popularity * exp(quality - s * log_relative_price)`` for every grid level s."""
    m = len(category)
    order = np.lexsort((np.arange(m), brand, category))
    cat_sorted = category[order]
    brand_sorted = brand[order]
    cat_len = np.bincount(cat_sorted, minlength=n_categories)
    brand_len = np.bincount(brand_sorted, minlength=n_brands)
    cat_start = np.concatenate(([0], np.cumsum(cat_len)[:-1]))
    # Brands are contiguous inside their category because of the sort order.
    brand_start = np.zeros(n_brands, dtype=np.int64)
    present_brands, first_idx = np.unique(brand_sorted, return_index=True)
    brand_start[present_brands] = first_idx
    seg_start = np.concatenate((cat_start, brand_start)).astype(np.int64)
    seg_len = np.concatenate((cat_len, brand_len)).astype(np.int64)

    levels = len(PRICE_SENSITIVITY_GRID)
    prob = np.ones((levels, 2, m))
    alias = np.tile(np.arange(m, dtype=np.int64), (levels, 2, 1))
    log_mass = np.full((levels, n_categories + n_brands), -np.inf)
    pop_s = popularity[order]
    q_s = quality[order]
    lrp_s = log_relative_price[order]
    for level, s in enumerate(PRICE_SENSITIVITY_GRID):
        w = pop_s * np.exp(q_s - s * lrp_s)
        for table, (starts, lens) in enumerate(((cat_start, cat_len), (brand_start, brand_len))):
            for seg, (a, n) in enumerate(zip(starts.tolist(), lens.tolist())):
                if n == 0:
                    continue
                seg_w = w[a:a + n]
                p, al = alias_table(seg_w)
                prob[level, table, a:a + n] = p
                alias[level, table, a:a + n] = al + a
                log_mass[level, seg + table * n_categories] = np.log(seg_w.sum())
    return SegmentTables(
        order=order.astype(np.int64),
        seg_start=seg_start,
        seg_len=seg_len,
        n_categories=n_categories,
        prob=prob.reshape(-1),
        alias=alias.reshape(-1),
        log_mass=log_mass,
    )
