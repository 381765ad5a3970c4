"""From interaction rows to the sparse user x item matrices the algorithms learn from.

Three layers, each a plain container of numpy columns:

* ``Events``: one row per de-duplicated event (``marts.interaction_events``); only the offline
  evaluation needs them, to cut history at a point in time.
* ``Interactions``: one row per (user, product) with counts per event type
  (``marts.user_item_interactions``, or ``Events.aggregate()``: both paths give the same rows).
* ``UserItemData``: stable id maps plus CSR matrices (users x items) of weighted, time-decayed
  interaction strength, purchase counts and purchase recency, raw view and add-to-cart counts, and how the
  user's visits spread over categories (``recommender.visits``), built by ``build_data``.

Strength is kept raw (a weighted, decayed event count) and saturated only when read as
``confidence``, so that fresh events can be added to a stored row at request time (fold-in).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np
import scipy.sparse as sp

from recommender.visits import category_visits, fresh_visit
from shopcore.events import ADD_TO_CART, PURCHASE, VIEW
from shopcore.timeunits import US_PER_DAY

MIN_AGE_DAYS = 1e-6  # ages are stored > 0, so that a purchase "just now" stays a stored entry


# --------------------------------------------------------------------------- id maps


@dataclass(frozen=True)
class IdMap:
    """Sorted unique external ids; the position of an id is its matrix index."""

    ids: np.ndarray  # int64, sorted, unique

    @classmethod
    def of(cls, *id_arrays: np.ndarray) -> IdMap:
        parts = [np.asarray(a, dtype=np.int64) for a in id_arrays]
        return cls(np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.ids)

    def index(self, ids: np.ndarray | int) -> np.ndarray:
        """Matrix index of each id, -1 for ids the map does not hold."""
        ids = np.atleast_1d(np.asarray(ids, dtype=np.int64))
        if len(self.ids) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        return np.where(self.ids[pos] == ids, pos, -1).astype(np.int64)


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class Events:
    """De-duplicated events as equal-length columns; times are int64 microseconds (UTC epoch)."""

    user_id: np.ndarray  # int64
    product_id: np.ndarray  # int64
    event_type: np.ndarray  # int8: 0 view, 1 add_to_cart, 2 purchase
    quantity: np.ndarray  # int32
    occurred_us: np.ndarray  # int64
    loaded_us: np.ndarray  # int64

    def __post_init__(self) -> None:
        n = len(self.user_id)
        for f in fields(self):
            if len(getattr(self, f.name)) != n:
                raise ValueError(f"Events column {f.name} has {len(getattr(self, f.name))} rows, expected {n}")

    def __len__(self) -> int:
        return len(self.user_id)

    def take(self, mask_or_index: np.ndarray) -> Events:
        return Events(**{f.name: getattr(self, f.name)[mask_or_index] for f in fields(self)})

    def occurred_before(self, at_us: int) -> Events:
        return self.take(self.occurred_us < at_us)

    def occurred_between(self, start_us: int, end_us: int) -> Events:
        return self.take((self.occurred_us >= start_us) & (self.occurred_us < end_us))

    def aggregate(self) -> Interactions:
        """One row per (user, product), as ``marts.user_item_interactions`` computes it."""
        if len(self) == 0:
            return Interactions.empty()
        key_user, key_product = self.user_id, self.product_id
        order = np.lexsort((key_product, key_user))
        u, p = key_user[order], key_product[order]
        starts = np.flatnonzero(np.concatenate(([True], (u[1:] != u[:-1]) | (p[1:] != p[:-1]))))
        group = np.cumsum(np.concatenate(([False], (u[1:] != u[:-1]) | (p[1:] != p[:-1])))).astype(np.int64)
        n = len(starts)
        kind = self.event_type[order]
        qty = self.quantity[order].astype(np.int64)
        occurred = self.occurred_us[order]

        def count(t: int) -> np.ndarray:
            return np.bincount(group, weights=(kind == t), minlength=n).astype(np.int64)

        first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        np.minimum.at(first, group, occurred)
        np.maximum.at(last, group, occurred)
        # Purchase timing (pairs never bought: first/last interaction and 0 units, never read).
        bought = kind == PURCHASE
        first_buy, last_buy = first.copy(), last.copy()
        first_buy[np.unique(group[bought])] = np.iinfo(np.int64).max
        last_buy[np.unique(group[bought])] = np.iinfo(np.int64).min
        np.minimum.at(first_buy, group[bought], occurred[bought])
        np.maximum.at(last_buy, group[bought], occurred[bought])
        # Units of each pair's last purchase (several purchases at that instant add up).
        at_last = bought & (occurred == last_buy[group])
        last_units = np.bincount(group[at_last], weights=qty[at_last], minlength=n).astype(np.int64)
        return Interactions(
            user_id=u[starts],
            product_id=p[starts],
            views=count(VIEW),
            add_to_carts=count(ADD_TO_CART),
            purchases=count(PURCHASE),
            units_purchased=np.bincount(group, weights=np.where(kind == PURCHASE, qty, 0), minlength=n).astype(np.int64),
            first_us=first,
            last_us=last,
            watermark_us=int(self.loaded_us.max()),
            first_purchase_us=first_buy,
            last_purchase_us=last_buy,
            last_purchase_units=last_units,
        )


@dataclass(frozen=True)
class Interactions:
    """One row per (user, product) pair with per-type counts; times are int64 microseconds."""

    user_id: np.ndarray
    product_id: np.ndarray
    views: np.ndarray
    add_to_carts: np.ndarray
    purchases: np.ndarray
    units_purchased: np.ndarray
    first_us: np.ndarray
    last_us: np.ndarray
    watermark_us: int | None  # newest loaded_at among the rows used
    # Purchase timing per pair (meaningful where purchases > 0): when the pair was first and
    # last bought, and how many units the last purchase had.
    first_purchase_us: np.ndarray
    last_purchase_us: np.ndarray
    last_purchase_units: np.ndarray

    def __len__(self) -> int:
        return len(self.user_id)

    @classmethod
    def empty(cls) -> Interactions:
        i = np.empty(0, dtype=np.int64)
        return cls(i, i, i, i, i, i, i, i, None, i, i, i)


@dataclass(frozen=True)
class Catalogue:
    """Products the shop sells and their categories (``marts.products``)."""

    product_id: np.ndarray  # int64
    category: np.ndarray  # str
    # Optional item metadata (None when the warehouse has none): content features of the ranker.
    brand: np.ndarray | None = None  # str, "" when unknown
    price: np.ndarray | None = None  # float64 list price, NaN when unknown

    @classmethod
    def empty(cls) -> Catalogue:
        return cls(np.empty(0, dtype=np.int64), np.empty(0, dtype=str))


# --------------------------------------------------------------------------- weighting


@dataclass(frozen=True)
class WeightConfig:
    """How much each event type says about a user's interest, and how fast it fades.

    ``strength = (views*view + carts*add_to_cart + purchases*purchase) * decay`` where decay
    halves every ``half_life_days`` since the pair's last interaction (None: no decay);
    algorithms read ``confidence = log1p(strength)``, so a hundred views do not drown a purchase.
    """

    view: float = 1.0
    add_to_cart: float = 4.0
    purchase: float = 8.0
    half_life_days: float | None = 60.0
    # Recency of a purchase for re-buy scoring: halves every this many days.
    rebuy_half_life_days: float = 45.0

    def __post_init__(self) -> None:
        for name in ("view", "add_to_cart", "purchase"):
            if not (getattr(self, name) >= 0):
                raise ValueError(f"weight {name} must be >= 0")
        if not (self.view <= self.add_to_cart <= self.purchase) or self.purchase <= 0:
            raise ValueError("weights must rank view <= add_to_cart <= purchase, with purchase > 0")
        if self.half_life_days is not None and not self.half_life_days > 0:
            raise ValueError("half_life_days must be > 0 or None")
        if not self.rebuy_half_life_days > 0:
            raise ValueError("rebuy_half_life_days must be > 0")

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def decay(self, age_us: np.ndarray, half_life_days: float | None) -> np.ndarray:
        if half_life_days is None:
            return np.ones(len(age_us))
        age_days = np.maximum(age_us, 0) / US_PER_DAY
        # The floor keeps every interaction a stored (non-zero) matrix entry however old.
        return np.maximum(np.exp2(-age_days / half_life_days), 1e-6)


def confidence(strength: sp.csr_matrix) -> sp.csr_matrix:
    out = strength.copy()
    out.data = np.log1p(out.data).astype(np.float32)
    return out


# --------------------------------------------------------------------------- matrices


@dataclass
class UserItemData:
    """Everything an algorithm may learn from, indexed by the id maps."""

    users: IdMap
    items: IdMap
    strength: sp.csr_matrix  # float32 users x items, weighted and decayed (> 0 where interacted)
    purchases: sp.csr_matrix  # float32 users x items, purchase counts (stored only where > 0)
    recency: sp.csr_matrix  # float32 users x items, purchase recency in (0, 1], same sparsity as purchases
    item_category: np.ndarray  # int32 index into category_names, -1 when unknown
    category_names: np.ndarray  # str
    reference_us: int  # "now" for decay: the newest interaction used
    watermark_us: int | None
    # Purchase timing, same sparsity as purchases:
    purchase_age: sp.csr_matrix  # days from the last purchase to reference_us (> 0)
    last_units: sp.csr_matrix  # units bought in the last purchase (>= 1)
    gap_per_unit: sp.csr_matrix  # mean days between purchases per unit bought; NaN if bought once
    # Visits per category, shared among the items touched (recommender.visits).
    visits: sp.csr_matrix
    # Raw view counts, undecayed: counts that a likelihood can read.
    views: sp.csr_matrix
    # Raw add-to-cart counts, undecayed: what the user chose, not only looked at.
    carts: sp.csr_matrix
    config: WeightConfig = field(default_factory=WeightConfig)
    _confidence: sp.csr_matrix | None = field(default=None, repr=False)
    # Item metadata from the catalogue (None when it has none): brand code (-1 unknown), list price (NaN unknown).
    item_brand: np.ndarray | None = None
    item_price: np.ndarray | None = None

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def confidence(self) -> sp.csr_matrix:
        if self._confidence is None:
            self._confidence = confidence(self.strength)
        return self._confidence

    def rows(self, user_index: np.ndarray) -> UserRows:
        """The training rows of known users (by matrix index)."""
        idx = np.asarray(user_index, dtype=np.int64)
        return UserRows(**{name: getattr(self, name)[idx] for name in ROW_MATRICES}, index=idx, folded=False)

    def all_rows(self) -> UserRows:
        """Every user's training row (the matrices themselves, not copies)."""
        return UserRows(**{name: getattr(self, name) for name in ROW_MATRICES},
                        index=np.arange(self.n_users), folded=False)

    def category_index(self, category: str) -> int:
        hits = np.flatnonzero(self.category_names == category)
        return int(hits[0]) if len(hits) else -1


@dataclass(frozen=True)
class UserRows:
    """A batch of users as the algorithms score them: their rows, and where they sit in training.

    ``folded`` says that the rows differ from the training rows (fresh events added, or users
    unknown at training time): models with per-user parameters recompute them from the rows.
    """

    strength: sp.csr_matrix
    purchases: sp.csr_matrix
    recency: sp.csr_matrix
    # Purchase timing, visits, views and carts as in UserItemData.
    purchase_age: sp.csr_matrix
    last_units: sp.csr_matrix
    gap_per_unit: sp.csr_matrix
    visits: sp.csr_matrix
    views: sp.csr_matrix
    carts: sp.csr_matrix
    index: np.ndarray  # training row of each user, -1 when unknown
    folded: bool

    def __len__(self) -> int:
        return self.strength.shape[0]

    def purchase_timing(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per stored purchase entry (the order of ``purchases.tocoo()``): days since the last
        purchase, units of the last purchase and observed days per unit between purchases (NaN
        when bought once)."""
        return (self.purchase_age.tocoo().data.astype(np.float64), self.last_units.tocoo().data.astype(np.float64),
                self.gap_per_unit.tocoo().data.astype(np.float64))

    @property
    def confidence(self) -> sp.csr_matrix:
        return confidence(self.strength)


# The users x items matrices a row of UserRows carries, in UserItemData and UserRows alike.
ROW_MATRICES = ("strength", "purchases", "recency", "purchase_age", "last_units", "gap_per_unit", "visits", "views",
                "carts")


def _csr(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    m = sp.csr_matrix((values.astype(np.float32), (rows, cols)), shape=shape, dtype=np.float32)
    m.sum_duplicates()
    m.sort_indices()
    return m


def build_data(
    interactions: Interactions,
    catalogue: Catalogue | None = None,
    config: WeightConfig | None = None,
    *,
    reference_us: int | None = None,
    items: IdMap | None = None,
) -> UserItemData:
    """Sparse matrices of ``interactions``; items are the catalogue's products plus any others seen.

    Pass ``items`` to pin the item index (e.g. so that a validation model and the test
    positives share it); products outside it are dropped.
    """
    config = config or WeightConfig()
    catalogue = catalogue or Catalogue.empty()
    if items is None:
        items = IdMap.of(catalogue.product_id, interactions.product_id)
    users = IdMap.of(interactions.user_id)
    col = items.index(interactions.product_id)
    keep = col >= 0
    inter = restrict(interactions, keep)
    col = col[keep]
    row = users.index(inter.user_id)
    if reference_us is None:
        reference_us = int(inter.last_us.max()) if len(inter) else 0
    age = reference_us - inter.last_us
    raw = (inter.views * config.view + inter.add_to_carts * config.add_to_cart
           + inter.purchases * config.purchase)
    strength_values = raw * config.decay(age, config.half_life_days)
    shape = (len(users), len(items))
    positive = strength_values > 0
    strength = _csr(row[positive], col[positive], strength_values[positive], shape)
    bought = inter.purchases > 0
    purchases = _csr(row[bought], col[bought], inter.purchases[bought], shape)
    recency = _csr(row[bought], col[bought], config.decay(age[bought], config.rebuy_half_life_days), shape)
    age_days, last_units, gap_per_unit = _purchase_timing(restrict(inter, bought), reference_us)

    category_names, item_category = _categories(catalogue, items)
    item_brand, item_price = _metadata(catalogue, items)
    visits = category_visits(row, col, inter.first_us, inter.last_us, item_category, shape)
    viewed = inter.views > 0
    views = _csr(row[viewed], col[viewed], inter.views[viewed], shape)
    carted = inter.add_to_carts > 0
    carts = _csr(row[carted], col[carted], inter.add_to_carts[carted], shape)
    return UserItemData(
        users=users,
        items=items,
        strength=strength,
        purchases=purchases,
        recency=recency,
        item_category=item_category,
        category_names=category_names,
        reference_us=int(reference_us),
        watermark_us=inter.watermark_us,
        purchase_age=_csr(row[bought], col[bought], age_days, shape),
        last_units=_csr(row[bought], col[bought], last_units, shape),
        gap_per_unit=_csr(row[bought], col[bought], gap_per_unit, shape),
        visits=visits,
        views=views,
        carts=carts,
        config=config,
        item_brand=item_brand,
        item_price=item_price,
    )


def _metadata(catalogue: Catalogue, items: IdMap) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Brand codes and list prices in item order (None when the catalogue has none)."""
    pos = items.index(catalogue.product_id)
    ok = pos >= 0
    brand = price = None
    if catalogue.brand is not None:
        names, codes = np.unique(np.asarray(catalogue.brand, dtype=str), return_inverse=True)
        codes = np.where(names[codes] == "", -1, codes)
        brand = np.full(len(items), -1, dtype=np.int32)
        brand[pos[ok]] = codes[ok]
    if catalogue.price is not None:
        price = np.full(len(items), np.nan, dtype=np.float32)
        price[pos[ok]] = np.asarray(catalogue.price, dtype=np.float64)[ok]
    return brand, price


def _purchase_timing(bought: Interactions, reference_us: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Days since the last purchase, units of the last purchase and mean days per unit between
    the first and the last purchase (NaN for pairs bought once) of pairs that were bought."""
    count = bought.purchases.astype(np.float64)
    first, last = bought.first_purchase_us, bought.last_purchase_us
    last_units = np.maximum(bought.last_purchase_units.astype(np.float64), 1.0)
    age = np.maximum((reference_us - last) / US_PER_DAY, MIN_AGE_DAYS)
    # The units bought before the last purchase were used up between the first and the last.
    earlier_units = np.maximum(bought.units_purchased - last_units, count - 1.0)
    span = (last - first) / US_PER_DAY
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.where((count >= 2) & (span > 0), span / earlier_units, np.nan)
    return age, last_units, gap


def _categories(catalogue: Catalogue, items: IdMap) -> tuple[np.ndarray, np.ndarray]:
    names, codes = np.unique(np.asarray(catalogue.category, dtype=str), return_inverse=True)
    item_category = np.full(len(items), -1, dtype=np.int32)
    pos = items.index(catalogue.product_id)
    ok = pos >= 0
    item_category[pos[ok]] = codes[ok]
    return names, item_category


def fold_in(
    data: UserItemData,
    user_id: int,
    product_id: np.ndarray,
    event_type: np.ndarray,
) -> UserRows:
    """The row of ``user_id`` (empty if unknown) plus fresh events (``fold``); products the model
    does not know are ignored."""
    items = data.items.index(np.asarray(product_id, dtype=np.int64))
    known = items >= 0
    return fold(data, int(data.users.index(user_id)[0]), items[known], np.asarray(event_type, dtype=np.int64)[known])


def fold(data: UserItemData, user: int, items: np.ndarray, kinds: np.ndarray) -> UserRows:
    """Training row ``user`` (-1: a user unknown at training time, an empty row) plus fresh events
    on item indices ``items`` of type codes ``kinds``, undecayed: they are newer than anything the
    model saw."""
    config, n = data.config, data.n_items

    def dense(m: sp.csr_matrix, dtype: type = np.float32, fill: float = 0.0) -> np.ndarray:
        out = np.full(n, fill, dtype=dtype)
        if user >= 0:
            lo, hi = m.indptr[user], m.indptr[user + 1]
            out[m.indices[lo:hi]] = m.data[lo:hi]
        return out

    strength, purchases, recency = dense(data.strength), dense(data.purchases), dense(data.recency)
    age, units = dense(data.purchase_age, np.float64), dense(data.last_units, np.float64)
    gap = dense(data.gap_per_unit, np.float64, np.nan)
    views, visits, carts = dense(data.views), dense(data.visits), dense(data.carts)

    np.add.at(strength, items, np.array([config.view, config.add_to_cart, config.purchase], dtype=np.float64)[kinds])
    np.add.at(views, items[kinds == VIEW], 1.0)
    np.add.at(carts, items[kinds == ADD_TO_CART], 1.0)
    visits += fresh_visit(items, data.item_category, n)  # the fresh events are one more visit
    bought = items[kinds == PURCHASE]
    # A fresh purchase happened just now (one unit: events carry no quantity here); when the
    # item was bought before, the time since then is one observed gap.
    again = np.unique(bought[purchases[bought] > 0])
    gap[again] = np.where(np.isnan(gap[again]), age[again] / np.maximum(units[again], 1.0), gap[again])
    age[bought], units[bought] = MIN_AGE_DAYS, 1.0
    np.add.at(purchases, bought, 1.0)
    recency[bought] = 1.0
    owned = np.flatnonzero(purchases > 0)

    def row(values: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix(values[None, :])

    def owned_row(values: np.ndarray) -> sp.csr_matrix:  # the sparsity of purchases
        return sp.csr_matrix((values[owned].astype(np.float32), owned, [0, len(owned)]), shape=(1, n))

    return UserRows(
        strength=row(strength), purchases=row(purchases), recency=row(recency),
        purchase_age=owned_row(age), last_units=owned_row(units), gap_per_unit=owned_row(gap),
        visits=row(visits), views=row(views), carts=row(carts),
        index=np.array([user], dtype=np.int64), folded=len(items) > 0 or user < 0,
    )


def restrict(interactions: Interactions, keep: np.ndarray) -> Interactions:
    """The rows of ``interactions`` where ``keep`` holds (watermark unchanged)."""
    return replace(interactions, **{f.name: getattr(interactions, f.name)[keep]
                                    for f in fields(Interactions) if f.name != "watermark_us"})
