"""Prices that move: list price changes and short promotions, as one price history per product.

Every product starts the window at its drawn list price (the "base price" that
``log_relative_price`` and the true affinity use). During the window:

* regular changes: a Poisson process with mean gap ``params.price_change_days``; each change
  multiplies the list price by a log-normal factor (a slight upward drift, like inflation);
* promotions: a renewal process with mean gap ``params.promotion_days``; each lasts three to
  ten days and takes 10-40 % off the list price. Black Week promotes a quarter of the
  catalogue (those days are in the window).

Prices change at UTC midnight, so the price is constant inside a day (and inside a daily
history batch). The history ends at the window end: appended and live windows keep the last
price. Users respond to the price of the moment through their price sensitivity
(``simulator.sessions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from shopcore.timeunits import US_PER_DAY
from simulator.distinct import distinct_sorted

_DAY_BITS = 32  # product index * 2**32 + day offset: one sortable key per (product, day)


@dataclass(frozen=True)
class PriceHistory:
    """Piecewise-constant prices, sorted by (product, first day)."""

    base_day: int  # days since the epoch of the window start (the first entry of each product)
    product: np.ndarray  # int64 product index
    day: np.ndarray  # int64 first day (since the epoch) of the price
    price_cents: np.ndarray  # int64
    promotion: np.ndarray  # bool
    key: np.ndarray  # int64 sort key of (product, day)

    def index_at(self, product: np.ndarray, at_us: np.ndarray | int) -> np.ndarray:
        day = np.maximum(np.asarray(at_us) // US_PER_DAY - self.base_day, 0)
        key = (np.asarray(product, dtype=np.int64) << _DAY_BITS) + day
        return np.searchsorted(self.key, key, side="right") - 1

    def price_at(self, product: np.ndarray, at_us: np.ndarray | int) -> np.ndarray:
        """Price in cents of each product at each instant (or one instant for all)."""
        return self.price_cents[self.index_at(product, at_us)]

    def last_change_us(self, n_products: int) -> np.ndarray:
        """Instant of each product's last price change (its window-start entry if none)."""
        last = np.full(n_products, -1, dtype=np.int64)
        last[self.product] = self.day * US_PER_DAY  # sorted by day: the last write wins
        return last


def psychological_price(dollars: np.ndarray) -> np.ndarray:
    """Shop-like prices in cents: x.99 above $10, x.49 / x.99 below, never under $0.99."""
    whole = np.round(dollars).astype(np.int64) * 100 - 1
    half = np.round(dollars * 2).astype(np.int64) * 50 - 1
    cents = np.where(dollars >= 10, whole, half)
    return np.maximum(cents, 99)


def _renewal_days(
    m: int, span: int, mean_gap: float, rng: np.random.Generator, length: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(product, day offset, event number) of a renewal process per product over [1, span)."""
    if mean_gap <= 0 or span <= 1:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    k = int(np.ceil(span / mean_gap * 2)) + 3
    gaps = rng.exponential(mean_gap, (m, k))
    if length is not None:
        gaps[:, 1:] += length[:, :-1]  # the next event starts after this one ends
    starts = np.ceil(np.cumsum(gaps, axis=1)).astype(np.int64)
    rows, cols = np.nonzero(starts < span)
    return rows.astype(np.int64), starts[rows, cols], cols.astype(np.int64)


def _black_week(start_day: int, span: int) -> list[int]:
    """Day offsets (from start_day) of the Friday before Thanksgiving week's end, in the window."""
    out = []
    first = date(1970, 1, 1) + timedelta(days=start_day)
    for year in range(first.year, first.year + span // 365 + 2):
        nov1 = date(year, 11, 1)
        thursday = nov1 + timedelta(days=(3 - nov1.weekday()) % 7 + 21)
        offset = (thursday + timedelta(days=1) - date(1970, 1, 1)).days - 7 - start_day
        if 1 <= offset < span:
            out.append(offset)
    return out


def build_price_history(
    base_cents: np.ndarray, start_us: int, end_us: int, change_days: float, promotion_days: float,
    rng: np.random.Generator,
) -> PriceHistory:
    m = len(base_cents)
    start_day = start_us // US_PER_DAY
    span = int((end_us - 1) // US_PER_DAY - start_day + 1)

    # Regular list changes.
    c_prod, c_day, _ = _renewal_days(m, span, change_days, rng)
    factor = np.exp(rng.normal(0.02, 0.08, len(c_prod)))
    # Promotions: (product, first day, last day + 1, discount).
    length = rng.integers(3, 11, (m, int(np.ceil(span / promotion_days * 2)) + 3)) if promotion_days > 0 else None
    p_prod, p_day, p_nth = _renewal_days(m, span, promotion_days, rng, length)
    p_len = length[p_prod, p_nth] if length is not None else np.empty(0, np.int64)
    if change_days > 0 or promotion_days > 0:
        for offset in _black_week(int(start_day), span):
            chosen = np.flatnonzero(rng.random(m) < 0.25)
            busy = np.isin(chosen, p_prod[(p_day <= offset + 11) & (p_day + p_len > offset)])
            chosen = chosen[~busy]
            p_prod = np.concatenate((p_prod, chosen))
            p_day = np.concatenate((p_day, np.full(len(chosen), offset)))
            p_len = np.concatenate((p_len, np.full(len(chosen), 11)))
    p_end = np.minimum(p_day + p_len, span)
    discount = rng.uniform(0.10, 0.40, len(p_prod))

    # Breakpoints: window start, list changes, promotion starts and ends.
    bp_prod = np.concatenate((np.arange(m), c_prod, p_prod, p_prod))
    bp_day = np.concatenate((np.zeros(m, np.int64), c_day, p_day, p_end))
    keep = bp_day < span
    key = distinct_sorted((bp_prod[keep] << _DAY_BITS) + bp_day[keep])
    prod, day = key >> _DAY_BITS, key & ((1 << _DAY_BITS) - 1)

    # List price at each breakpoint: the base times every change factor up to that day.
    c_key = (c_prod << _DAY_BITS) + c_day
    c_order = np.argsort(c_key, kind="stable")
    c_key, log_f = c_key[c_order], np.log(factor[c_order])
    cum = np.concatenate(([0.0], np.cumsum(log_f)))
    # Cumulative log-factor of the product's changes <= day = cum[upto] - cum[first of product].
    upto = np.searchsorted(c_key, key, side="right")
    first = np.searchsorted(c_key, prod << _DAY_BITS, side="left")
    list_dollars = base_cents[prod] / 100 * np.exp(cum[upto] - cum[first])

    # Promotion in force: the product's last promotion start <= day, if it has not ended.
    p_key = (p_prod << _DAY_BITS) + p_day
    p_order = np.argsort(p_key, kind="stable")
    p_key, p_end_s, disc_s = p_key[p_order], p_end[p_order], discount[p_order]
    if len(p_key):
        last = np.searchsorted(p_key, key, side="right") - 1
        safe = np.maximum(last, 0)
        on_promo = (last >= 0) & ((p_key[safe] >> _DAY_BITS) == prod) & (p_end_s[safe] > day)
        cut = np.where(on_promo, disc_s[safe], 0.0)
    else:
        on_promo, cut = np.zeros(len(key), dtype=bool), np.zeros(len(key))

    cents = psychological_price(list_dollars * (1 - cut))  # idempotent on the base price
    # Drop entries that repeat the previous price of the same product.
    same = np.concatenate(([False], (prod[1:] == prod[:-1]) & (cents[1:] == cents[:-1])
                           & (on_promo[1:] == on_promo[:-1])))
    prod, day, cents, on_promo = prod[~same], day[~same], cents[~same], on_promo[~same]
    return PriceHistory(
        base_day=int(start_day), product=prod, day=day + start_day, price_cents=cents,
        promotion=on_promo, key=(prod << _DAY_BITS) + day,
    )

