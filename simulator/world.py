"""The world model of the synthetic shop: who the users are, what they like, what is for sale.

``build_world(params)`` is deterministic from ``params.seed``. Events (``simulator.generate``)
are drawn from this model, and ``World.truth_tables()`` exports its hidden parameters so that
recommenders can be judged against what users really like.

Ground-truth contract
---------------------
For user u and product p::

    affinity(u, p) = category_affinity[u, category(p)]
                     + brand_affinity[u, brand(p)]          (0 when the user has no row for the brand)
                     + quality[p]
                     - price_sensitivity[u] * log_relative_price[p]
                     + sum over d of user_taste[u, d] * product_taste[p, d]

    log_relative_price[p] = ln(base_price[p] / median base price of the products of category(p))

with the values of ``truth.user_category_affinity.affinity`` (one array per user, at the position
``truth.categories`` gives the product's category), ``truth.user_brand_affinity.affinity``,
``truth.products.quality``, ``truth.users.price_sensitivity``,
``truth.products.log_relative_price``, ``truth.user_taste`` and ``truth.product_taste`` (the view
``truth.user_product_affinity`` computes it). The base price is the list price at the window
start: the first row of the product in ``truth.product_prices``.

A view inside a session lands on product p with probability proportional to
``popularity[p] * exp(affinity(u, p))`` (``truth.products.popularity``). This holds exactly for
every browsing view on a day without price moves or seasons (see ``simulator.sampling``);
sessions focus on one or two interests and one taste cluster in each, which changes which
views share a session but not each view's law. (A consumable re-buy session views the product
it re-buys; a carted product sometimes leads to a view of one of its complements,
``truth.product_complements``.) On a given day, today's price and the product's season shift
that law (``Moment``, ``simulator.sessions``). Add-to-cart is more likely the higher
``affinity(u, p)`` minus ``deal_response * price_sensitivity * ln(today's price / base price)``.

Other hidden quantities, in the units the truth tables use:

* ``category_affinity = ln(C * share)`` where ``share`` is the user's Dirichlet taste over the C
  categories (so 0 means "average interest"), clipped to [-6, ln C];
* ``brand_affinity`` > 0 on the 0-4 brands a user likes (a bonus, never a penalty);
* ``price_sensitivity`` is one of 0.0, 0.1, ..., 2.5;
* taste vectors (``params.taste_dims`` dimensions): a product's is the centre of its taste
  cluster, a user's mixes one to three cluster centres (``simulator.tastes``);
* ``activity_rate`` is the sessions/day of the user right after signing up, on an average day;
  seasonality multiplies it, and it decays with account age with a per-user time constant
  (log-normal, median ``params.engagement_days``, spread ``params.engagement_sigma``): most
  visitors never return after their first visit, a few stay for months (churn: the chance of
  another visit falls with the time since signing up);
* ``popularity`` is Zipf-like inside each category and averages 1 per category;
* ``quality`` is a taste-free bonus shared by all users;
* prices: ``truth.product_prices`` holds each product's piecewise-constant price history
  (``simulator.prices``); ``raw.products`` the price at the window end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime

import numpy as np

from shopcore.ordering import stable_argsort
from shopcore.timeunits import US_PER_DAY, US_PER_SECOND
from simulator.blocks import user_blocks
from simulator.catalog import BRAND_HEADS, BRAND_TAILS, CHANNELS, COUNTRIES, Category
from simulator.memory import fewer_fresh_pages
from simulator.params import SimulationParams
from simulator.people import NamePool, build_name_pools, make_people
from simulator.prices import PriceHistory, build_price_history, psychological_price
from simulator.sampling import PRICE_SENSITIVITY_GRID, SegmentTables, build_segment_tables
from simulator.scenarios import scenario_named
from simulator.seasonality import to_us
from simulator.tastes import cluster_directions, complements, product_tastes, user_tastes
from simulator.threads import one_blas_thread

MAX_LIKED_BRANDS = 4
QUIET_RATE = 1e-5  # sessions/day under which a user counts as gone
_QUIET_CAP = (1 << 31) - 1  # seconds from signup to quiet, capped (about 68 years)
_MAX_BRANDS_PER_CATEGORY = 40
_PRODUCTS_PER_BRAND = 10
_CATALOGUE_AGE_DAYS = 3 * 365
_AFFINITY_FLOOR = -6.0


def _stream(seed: int, *key: int) -> np.random.Generator:
    """An independent generator for one part of the world (changing one part leaves the others)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, *key)))


# --------------------------------------------------------------------------- data holders


@dataclass
class Users:
    """One row per user, indexed by ``user_id - 1``."""

    user_id: np.ndarray  # int64, 1..N
    email: np.ndarray  # bytes (UTF-8, ``simulator.people``)
    full_name: np.ndarray  # bytes (UTF-8)
    country: np.ndarray  # str, ISO 3166-1 alpha-2
    channel: np.ndarray  # str, acquisition channel
    signup_us: np.ndarray  # int64 microseconds since the epoch (UTC)
    category_affinity: np.ndarray  # (N, C) float64
    liked_brand: np.ndarray  # (N, MAX_LIKED_BRANDS) int64 brand index, -1 = empty slot
    liked_brand_affinity: np.ndarray  # (N, MAX_LIKED_BRANDS) float64, 0 on empty slots
    price_level: np.ndarray  # int64 index into PRICE_SENSITIVITY_GRID
    activity_rate: np.ndarray  # float64 sessions/day at signup
    engagement_days: np.ndarray  # float64 time constant of the decay of activity
    quiet_us: np.ndarray  # int64 instant after which the rate is below QUIET_RATE (skipped)
    taste: np.ndarray  # (N, taste_dims) float32 position in the taste space
    # Sampler cache: cumulative probability of each "interest" (the categories, then the liked
    # brands' slots; ``sessions._draw_cells`` maps an interest to its sampling segment).
    interest_cdf: np.ndarray  # (N, C + MAX_LIKED_BRANDS) float32: a draw needs no finer steps

    def __len__(self) -> int:
        return len(self.user_id)

    @property
    def price_sensitivity(self) -> np.ndarray:
        return PRICE_SENSITIVITY_GRID[self.price_level]

    def sensitivity_of(self, user_index: np.ndarray) -> np.ndarray:
        """Price sensitivity of some users (without a pass over all of them)."""
        return PRICE_SENSITIVITY_GRID[self.price_level[user_index]]

    @property
    def signup_at(self) -> np.ndarray:
        return self.signup_us.view("datetime64[us]")

    def appended(self, parts: Sequence[Users], spare: dict[str, np.ndarray]) -> Users:
        """These users and then ``parts``' users, written into ``spare`` (each column's buffer,
        whose first rows are this table's; updated in place): a buffer too short (or of too narrow
        a text type) is replaced by one half as long again as needed, so that adding a few users
        at a time (a live stream's signups) costs the rows added, not a copy of every user."""
        n = len(self)
        total = n + sum(len(p) for p in parts)
        columns = {}
        for f in fields(Users):
            mine = getattr(self, f.name)
            buffer = spare.get(f.name)
            dtype = np.result_type(mine, *(getattr(p, f.name) for p in parts))
            if buffer is None or len(buffer) < total or buffer.dtype != dtype or mine.base is not buffer:
                buffer = np.empty((total + total // 2, *mine.shape[1:]), dtype=dtype)
                buffer[:n] = mine
                spare[f.name] = buffer
            at = n
            for p in parts:
                values = getattr(p, f.name)
                buffer[at:at + len(values)] = values
                at += len(values)
            columns[f.name] = buffer[:total]
        return Users(**columns)


@dataclass(frozen=True)
class Products:
    """One row per product, indexed by ``product_id - 1``."""

    product_id: np.ndarray  # int64, 1..M
    sku: np.ndarray  # str, unique
    name: np.ndarray  # str
    category: np.ndarray  # int64 index into World.category_names
    brand: np.ndarray  # int64 index into World.brand_names
    price_cents: np.ndarray  # int64, > 0: the current price (at the window end)
    base_price_cents: np.ndarray  # int64: the list price at the window start
    created_us: np.ndarray  # int64 microseconds since the epoch
    updated_us: np.ndarray
    popularity: np.ndarray  # float64, mean 1 inside each category
    quality: np.ndarray  # float64
    log_relative_price: np.ndarray  # float64
    is_consumable: np.ndarray  # bool
    repurchase_days: np.ndarray  # float64, NaN for durables
    taste: np.ndarray  # (M, taste_dims) float32 position in the taste space
    taste_cluster: np.ndarray  # int64 the cluster the product was drawn around
    complements: np.ndarray  # (M, MAX_COMPLEMENTS) int64 product index, -1 = none
    season_peak: np.ndarray  # float64 day of the year when the product is most wanted

    def __len__(self) -> int:
        return len(self.product_id)


@dataclass(frozen=True)
class Moment:
    """What changes with the day: each product's price against its base price and its season.

    ``price_log_ratio[p] = ln(price today / base price)`` (negative on a promotion);
    ``season[p] = season_strength * cos(2 pi (day of year - season_peak[p]) / 365.25)``.
    Views lean towards ``exp(season - price_sensitivity * price_log_ratio)`` on top of the
    affinity (seasons choose between sampling cells, prices inside them), and add-to-cart uses
    ``affinity - deal_response * price_sensitivity * price_log_ratio``.
    """

    price_moves: bool  # some price differs from its base price today
    seasonal: bool  # seasons are on
    price_log_ratio: np.ndarray  # (M,) float32
    season: np.ndarray  # (M,) float32
    # Per sampling cell (``simulator.sampling``): the largest price cut (-price_log_ratio, or
    # 0), the bound of the views' rejection step; the mean season of its products.
    cell_cut: np.ndarray  # float32 per cell
    cell_mean_season: np.ndarray  # float32 per cell
    cell_mean_season_max: float


@dataclass
class World:
    params: SimulationParams
    category_names: np.ndarray  # str, C
    brand_names: np.ndarray  # str, B
    brand_category: np.ndarray  # int64, B
    products: Products
    tables: SegmentTables
    prices: PriceHistory
    taste_centres: np.ndarray  # (taste_clusters, taste_dims)
    name_pools: dict[str, NamePool] = field(repr=False)
    _users: Users = field(repr=False)
    # The addresses in use, gathered from the users when users are first added (live mode).
    _taken_emails: set[bytes] | None = field(default=None, repr=False)
    # Users added since ``users`` was last read: joined lazily, so that adding users one by
    # one (live signups, replaying them on restart) costs O(total), not O(n) per user.
    _added: list[Users] = field(default_factory=list, repr=False)
    _n_added: int = field(default=0, repr=False)
    _spare: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # Users.appended's buffers
    _moments: dict[int, Moment] = field(default_factory=dict, repr=False)
    _awake_index: tuple[np.ndarray, ...] | None = field(default=None, repr=False)
    _cells: tuple[np.ndarray, ...] | None = field(default=None, repr=False)  # _product_cells
    _intent_shares: np.ndarray | None = field(default=None, repr=False)  # intent_shares

    @property
    def users(self) -> Users:
        if self._added:
            self._users = self._users.appended(self._added, self._spare)
            self._added, self._n_added = [], 0
        return self._users

    @property
    def taken_emails(self) -> set[bytes]:
        if self._taken_emails is None:
            self._taken_emails = set(self.users.email.tolist())
        return self._taken_emails

    @property
    def n_users(self) -> int:
        return len(self._users) + self._n_added

    @property
    def n_products(self) -> int:
        return len(self.products)

    @property
    def n_categories(self) -> int:
        return len(self.category_names)

    def awake_rates(self, at_us: int, signed_up_before_us: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, sessions/day at ``at_us`` before seasonality) of the users who signed up
        before ``signed_up_before_us`` and are not yet quiet at ``at_us``: activity decayed by
        account age.

        Users are grouped by signup day, each group sorted by quiet instant (latest first), so
        one search per signup day finds its awake users without a pass over everyone (the
        index is cached until users are added). Users come in the index's order, and their
        instants and rates are read from arrays kept in that order: runs of nearby memory
        rather than gathers from everywhere."""
        first_day, order, keys, day_start = self._signup_index()
        quiet_by_key, signup_by_key, log_activity_by_key, decay_by_key = self._awake_index[5:]
        today = min(max(at_us // US_PER_DAY - first_day, 0), len(day_start) - 1)
        days = np.arange(today)
        # Quiet later than at needs quiet_s > at - signup > at - the day's end: a superset,
        # made exact by the filter below.
        since = (at_us - (first_day + days + 1) * US_PER_DAY) // US_PER_SECOND - 1
        limit = (days << 31) | (_QUIET_CAP - np.clip(since, -1, _QUIET_CAP))
        ends = np.searchsorted(keys, limit, side="left")
        starts = day_start[:today]
        lengths = np.maximum(ends - starts, 0)
        picked = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        last = min(max((signed_up_before_us - 1) // US_PER_DAY - first_day + 1, today),
                   len(day_start) - 1)
        at = np.concatenate((picked, np.arange(day_start[today], day_start[last])))
        signup = signup_by_key[at]
        keep = (quiet_by_key[at] > at_us) & (signup < signed_up_before_us)
        at = at[keep]
        age_us = np.maximum(at_us - signup[keep], 0)
        return order[at], np.exp(log_activity_by_key[at] - age_us * decay_by_key[at])

    def intent_shares(self) -> np.ndarray:
        """Each user's share of visits meant to buy, before an order's cooldown: frequent
        visitors mostly browse (``intent_activity_elasticity``), so orders spread over more
        users than visits do. Fixed per user, so computed once (until users are added) rather
        than a power per session every day."""
        users = self.users
        if self._intent_shares is None or len(self._intent_shares) != len(users):
            p = self.params
            relative_activity = users.activity_rate / p.mean_activity
            self._intent_shares = p.intent_share * np.clip(
                relative_activity ** -p.intent_activity_elasticity, 0.2, 5.0)
        return self._intent_shares

    def signed_up_between(self, start_us: int, end_us: int) -> np.ndarray:
        """Sorted indices of the users who signed up in ``[start_us, end_us)``: the signup days'
        groups of the index, without a pass over everyone."""
        first_day, order, _, day_start = self._signup_index()
        last = len(day_start) - 1
        a = day_start[min(max(start_us // US_PER_DAY - first_day, 0), last)]
        b = day_start[min(max((end_us - 1) // US_PER_DAY - first_day + 1, 0), last)]
        candidates = order[a:b]
        signup = self.users.signup_us[candidates]
        return np.sort(candidates[(signup >= start_us) & (signup < end_us)])

    def _signup_index(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """(first signup day, user indices by signup day then latest quiet instant first, their
        keys, where each day's group starts), cached until users are added."""
        users = self.users
        n = len(users)
        if self._awake_index is None or self._awake_index[0] != n:
            day = users.signup_us // US_PER_DAY
            # The first signup's day (not the epoch's): the per-day searches cover signup days only.
            first_day = int(day.min()) if n else 0
            rel_day = day - first_day
            quiet_s = np.clip((users.quiet_us - users.signup_us) // US_PER_SECOND, 0, _QUIET_CAP)
            key = (rel_day << 31) | (_QUIET_CAP - quiet_s)  # by day, then latest quiet first
            order = stable_argsort(key)
            day_start = np.searchsorted(key[order] >> 31, np.arange(int(rel_day.max(initial=0)) + 2))
            # The rate activity x exp(-age / engagement) as one exponential of
            # log(activity) - age_us x (its decay per microsecond).
            self._awake_index = (n, first_day, order, key[order], day_start,
                                 users.quiet_us[order], users.signup_us[order],
                                 np.log(users.activity_rate[order]),
                                 1.0 / (users.engagement_days[order] * US_PER_DAY))
        return self._awake_index[1:5]

    def moment(self, at_us: int) -> Moment:
        """The day's prices and seasons (prices change at midnight UTC), cached per day."""
        day = at_us // US_PER_DAY
        cached = self._moments.get(day)
        if cached is None:
            p, m = self.products, self.n_products
            today = self.prices.price_at(np.arange(m), at_us)
            ratio = np.log(today / p.base_price_cents).astype(np.float32)
            strength = self.params.season_strength
            if strength > 0:
                day_of_year = day % 365.25  # the epoch is a 1 January; the drift is negligible
                season = (strength * np.cos(2 * np.pi * (day_of_year - p.season_peak) / 365.25))
            else:
                season = np.zeros(m)
            cells, by_cell, present, run_start = self._product_cells()
            n_cells = len(self.tables.cell_len)
            cell_cut = np.zeros(n_cells)
            cell_cut[present] = np.maximum(np.maximum.reduceat(np.tile(-ratio, 2)[by_cell], run_start), 0.0)
            count = np.bincount(cells, minlength=n_cells)
            mean_season = np.bincount(cells, weights=np.tile(season, 2), minlength=n_cells)
            mean_season = mean_season / np.maximum(count, 1)
            cached = Moment(bool(ratio.any()), strength > 0, ratio, season.astype(np.float32),
                            cell_cut.astype(np.float32), mean_season.astype(np.float32),
                            float(mean_season[count > 0].max(initial=0.0)))
            if len(self._moments) > 64:
                self._moments.clear()
            self._moments[day] = cached
        return cached

    def _product_cells(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(each product's category cell then brand cell, positions by cell, the cells that
        hold products, where each starts in that order): a day's per-cell maximum is then one
        reduction over runs rather than an unbuffered scatter."""
        if self._cells is None:
            p = self.products
            k, n_cat = self.tables.n_clusters, self.n_categories
            cells = np.concatenate((p.category * k + p.taste_cluster,
                                    (n_cat + p.brand) * k + p.taste_cluster))
            by_cell = np.argsort(cells, kind="stable")
            present, run_start = np.unique(cells[by_cell], return_index=True)
            self._cells = (cells, by_cell, present, run_start)
        return self._cells

    # ----------------------------------------------------------------- ground truth

    def affinity(self, user_index: int) -> np.ndarray:
        """``affinity(u, p)`` of one user (0-based index = user_id - 1) over all products."""
        u, p = self.users, self.products
        out = u.category_affinity[user_index, p.category].copy()
        for b, a in zip(u.liked_brand[user_index], u.liked_brand_affinity[user_index]):
            if b >= 0:
                out[p.brand == b] += a
        out += p.quality - u.price_sensitivity[user_index] * p.log_relative_price
        # In float64, like the SQL view over the stored (float32) values.
        out += p.taste.astype(np.float64) @ u.taste[user_index].astype(np.float64)
        return out

    def pair_affinity(
        self, user_index: np.ndarray, product_index: np.ndarray, *, taste: np.ndarray | None = None,
        sensitivity: np.ndarray | None = None,
    ) -> np.ndarray:
        """``affinity(u, p)`` of many (user index, product index) pairs at once; pass ``taste``
        (the pairs' taste terms) and ``sensitivity`` (the users' price sensitivity) when they
        are known already."""
        u, p = self.users, self.products
        cat = p.category[product_index]
        out = u.category_affinity.reshape(-1)[user_index * self.n_categories + cat]
        brand = p.brand[product_index]
        # The pairs' liked brands gathered as whole rows once, then compared slot by slot on
        # columns: much faster than an (n, slots) comparison and sum.
        liked = np.take(u.liked_brand, user_index, axis=0)
        for slot in range(MAX_LIKED_BRANDS):
            hit = np.flatnonzero(liked[:, slot] == brand)
            out[hit] += u.liked_brand_affinity[user_index[hit], slot]
        out += p.quality[product_index]
        if sensitivity is None:
            sensitivity = u.sensitivity_of(user_index)
        out -= sensitivity * p.log_relative_price[product_index]
        out += taste if taste is not None else taste_term(u.taste, p.taste, user_index, product_index)
        return out

    def truth_tables(self) -> dict[str, dict[str, np.ndarray]]:
        """Rows of the truth tables (``truth.<name>``, shopcore/migrations) as column name ->
        numpy array: every user's (``user_truth_tables``), the categories and the catalogue's.

        ``repurchase_days`` is NaN where the table holds NULL (durables).
        """
        p = self.products
        comp_rows, comp_slots = np.nonzero(p.complements >= 0)
        return {
            **self.user_truth_tables(),
            "categories": self.categories_table(),
            "products": {
                "product_id": p.product_id.copy(),
                "popularity": p.popularity.copy(),
                "quality": p.quality.copy(),
                "log_relative_price": p.log_relative_price.copy(),
                "is_consumable": p.is_consumable.copy(),
                "repurchase_days": p.repurchase_days.copy(),
            },
            "product_taste": _vector_rows("product_id", p.product_id, p.taste),
            "product_complements": {
                "product_id": p.product_id[comp_rows],
                "complement_id": p.product_id[p.complements[comp_rows, comp_slots]],
            },
            "product_prices": {
                "product_id": p.product_id[self.prices.product],
                "valid_from": (self.prices.day * US_PER_DAY).view("datetime64[us]"),
                "price_cents": self.prices.price_cents.copy(),
                "is_promotion": self.prices.promotion.copy(),
            },
        }

    def categories_table(self) -> dict[str, np.ndarray]:
        """Rows of truth.categories: the position (1-based) of each category in the users' arrays."""
        return {"category_index": np.arange(1, self.n_categories + 1, dtype=np.int32),
                "category": self.category_names.copy()}

    def user_truth_tables(self, user_index: np.ndarray | None = None) -> dict[str, dict[str, np.ndarray]]:
        """Rows of truth.users, truth.user_category_affinity (one array per user, positions as in
        ``truth.categories``), truth.user_brand_affinity and truth.user_taste: of every user, or
        only of ``user_index`` (0-based), without a pass over the others."""
        u = self.users
        pick = slice(None) if user_index is None else np.asarray(user_index, dtype=np.int64)
        user_id = u.user_id[pick]
        liked_brand = u.liked_brand[pick]
        rows, slots = np.nonzero(liked_brand >= 0)
        return {
            "users": {
                "user_id": user_id.copy(),
                "price_sensitivity": PRICE_SENSITIVITY_GRID[u.price_level[pick]].astype(np.float64),
                "activity_rate": u.activity_rate[pick].copy(),
            },
            "user_category_affinity": {
                "user_id": user_id.copy(),
                # The users' own rows when every user is asked for (the loader reads them in
                # slices): a copy of every user's would double the world's largest table.
                "affinity": u.category_affinity[pick],
            },
            "user_brand_affinity": {
                "user_id": user_id[rows],
                "brand": self.brand_names[liked_brand[rows, slots]],
                "affinity": u.liked_brand_affinity[pick][rows, slots],
            },
            "user_taste": _vector_rows("user_id", user_id, u.taste[pick]),
        }

    # ----------------------------------------------------------------- raw tables

    def users_table(self, user_index: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Rows of raw.users (column name -> array) of every user or only of ``user_index``
        (0-based); ``signup_at`` is datetime64[us] UTC."""
        u = self.users
        pick = slice(None) if user_index is None else np.asarray(user_index, dtype=np.int64)
        return {
            "user_id": u.user_id[pick], "email": u.email[pick], "full_name": u.full_name[pick],
            "country": u.country[pick], "channel": u.channel[pick], "signup_at": u.signup_at[pick],
        }

    def products_table(self) -> dict[str, np.ndarray]:
        """Rows of raw.products. ``price_cents`` (int64) holds ``price`` x 100."""
        p = self.products
        return {
            "product_id": p.product_id, "sku": p.sku, "name": p.name,
            "category": self.category_names[p.category], "brand": self.brand_names[p.brand],
            "price_cents": p.price_cents,
            "created_at": p.created_us.view("datetime64[us]"),
            "updated_at": p.updated_us.view("datetime64[us]"),
        }

    # ----------------------------------------------------------------- live mode

    def add_users(
        self,
        n: int,
        signup_times: Sequence[datetime] | np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Append ``n`` new users who signed up at ``signup_times``; returns their user ids.

        ``signup_times``: timezone-aware datetimes, datetime64 (UTC) or int64 microseconds.
        Ids continue after the current maximum (ids are always 1..n_users); tastes follow the
        same laws as at build time.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        signup_us = _as_us_array(signup_times)
        if len(signup_us) != n:
            raise ValueError(f"signup_times has {len(signup_us)} values for n={n} users")
        if n == 0:
            return np.empty(0, dtype=np.int64)
        new = _draw_users(self, signup_us, self.n_users + 1, rng, self.taken_emails)
        self._added.append(new)
        self._n_added += n
        return new.user_id


def quiet_instant(signup_us: np.ndarray, activity: np.ndarray, engagement: np.ndarray) -> np.ndarray:
    """When a user's visit rate ``activity * exp(-age / engagement)`` falls below QUIET_RATE:
    after that the generator skips them (the visits lost are at most QUIET_RATE x engagement)."""
    days = engagement * np.log(np.maximum(activity / QUIET_RATE, 1.0))
    return signup_us.astype(np.int64) + np.minimum(days * US_PER_DAY, 1e17).astype(np.int64)


def taste_term(
    user_taste: np.ndarray, product_taste: np.ndarray, user_index: np.ndarray,
    product_index: np.ndarray,
) -> np.ndarray:
    """``user_taste[u] . product_taste[p]`` of many pairs, in chunks (bounded memory)."""
    out = np.empty(len(user_index))
    step = 1 << 18
    for a in range(0, len(user_index), step):
        u = user_taste[user_index[a:a + step]].astype(np.float64)
        p = product_taste[product_index[a:a + step]].astype(np.float64)
        out[a:a + step] = np.einsum("nd,nd->n", u, p)
    return out


def _vector_rows(key: str, ids: np.ndarray, vectors: np.ndarray) -> dict[str, np.ndarray]:
    """(id, taste) rows: one vector (a 2-D column, float32 as stored in the world; written as
    float8, exactly) per id."""
    return {key: ids.copy(), "taste": vectors}


def _as_us_array(times: Sequence[datetime] | np.ndarray) -> np.ndarray:
    arr = np.asarray(times)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[us]").view(np.int64)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    return np.array([to_us(t) for t in times], dtype=np.int64)


# --------------------------------------------------------------------------- construction


def build_world(params: SimulationParams) -> World:
    """The shop described by ``params``: catalogue first, then users who shop in it."""
    with one_blas_thread(), fewer_fresh_pages():
        return _build_world(params)


def _build_world(params: SimulationParams) -> World:
    start_us = to_us(params.start)
    end_us = to_us(params.end)
    scenario = scenario_named(params.scenario)
    categories = scenario.categories
    category_names = np.array([c.name for c in categories])
    centres = cluster_directions(params.taste_clusters, params.taste_dims, _stream(params.seed, 3))
    products, brand_names, brand_category = _build_products(
        params, categories, scenario.house_brand, centres, start_us, end_us)
    prices = build_price_history(
        products.base_price_cents, start_us, end_us, params.price_change_days,
        params.promotion_days, _stream(params.seed, 4))
    current = prices.price_at(np.arange(len(products)), end_us - 1)
    last_change = prices.last_change_us(len(products))
    products = dataclasses.replace(
        products, price_cents=current,
        updated_us=np.where(current != products.base_price_cents,
                            np.maximum(products.updated_us, last_change), products.updated_us))
    tables = build_segment_tables(
        products.category, products.brand, products.taste_cluster, len(categories),
        len(brand_names), params.taste_clusters, products.popularity, products.quality,
        products.log_relative_price,
    )
    world = World(
        params=params,
        category_names=category_names,
        brand_names=brand_names,
        brand_category=brand_category,
        products=products,
        tables=tables,
        prices=prices,
        taste_centres=centres,
        name_pools=build_name_pools(params.seed),
        _users=_empty_users(len(categories), params.taste_dims),
    )
    signup_us = _signup_times(params, start_us, end_us, _stream(params.seed, 1))
    # No set: the world gathers the taken addresses only when users are added.
    world._users = _draw_users(world, signup_us, 1, _stream(params.seed, 2), None)
    return world


def _largest_remainder(shares: np.ndarray, total: int) -> np.ndarray:
    exact = shares / shares.sum() * total
    counts = np.floor(exact).astype(np.int64)
    rest = total - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:rest]] += 1
    return counts


def _build_products(
    params: SimulationParams, categories: tuple[Category, ...], house_brand: str | None,
    centres: np.ndarray, start_us: int, end_us: int,
) -> tuple[Products, np.ndarray, np.ndarray]:
    rng = _stream(params.seed, 0)
    m = params.products
    n_cat = len(categories)
    counts = _largest_remainder(np.array([c.catalogue_share for c in categories]), m)

    # Brands belong to one category; bigger categories have more brands.
    n_brands = np.where(
        counts > 0,
        np.clip(np.round(counts / _PRODUCTS_PER_BRAND), 1, _MAX_BRANDS_PER_CATEGORY),
        0,
    ).astype(np.int64)
    if house_brand is not None:  # a shop without brands: one label on everything
        n_brands = np.where(np.arange(n_cat) == 0, 1, 0).astype(np.int64)
    total_brands = int(n_brands.sum())
    words = np.array([h + t for h in BRAND_HEADS for t in BRAND_TAILS])
    words = words[rng.permutation(len(words))]
    if total_brands > len(words):  # very large catalogues: add a second word
        words = np.strings.add(np.strings.add(np.repeat(words, 2), " "),
                               np.tile(np.array(["One", "Prime"]), len(words)))
    brand_category = np.repeat(np.arange(n_cat), n_brands)
    flavour_pick = rng.random(total_brands) < 0.35
    brand_names = []
    for b in range(total_brands):
        name = str(words[b]) if house_brand is None else house_brand
        flavours = categories[brand_category[b]].brand_flavours
        if flavour_pick[b] and flavours and house_brand is None:
            name = f"{name} {flavours[rng.integers(len(flavours))]}"
        brand_names.append(name)
    brand_names_arr = np.array(brand_names)
    brand_tier = rng.normal(0.0, 0.25, total_brands)  # premium vs budget brands
    brand_quality = rng.normal(0.0, 0.3, total_brands)
    if house_brand is not None:
        brand_tier[:] = 0.0

    category = np.repeat(np.arange(n_cat), counts)
    if house_brand is not None:
        brand_category = np.zeros(total_brands, dtype=np.int64)
    brand = np.zeros(m, dtype=np.int64)
    brand_offset = np.concatenate(([0], np.cumsum(n_brands)[:-1]))
    for c in range(n_cat):
        rows = np.flatnonzero(category == c)
        k = int(n_brands[c])
        if k == 0 or house_brand is not None:
            continue
        # Every brand gets one product; the rest go to big brands more often (Zipf 0.8).
        weights = 1.0 / np.arange(1, k + 1) ** 0.8
        local = np.concatenate((
            np.arange(min(k, len(rows))),
            rng.choice(k, size=max(len(rows) - k, 0), p=weights / weights.sum()),
        ))
        brand[rows] = brand_offset[c] + local

    cat_median = np.array([c.median_price for c in categories])[category]
    cat_sigma = np.array([c.price_sigma for c in categories])[category]
    dollars = cat_median * np.exp(cat_sigma * rng.standard_normal(m) + brand_tier[brand])
    price_cents = psychological_price(dollars)
    log_relative_price = np.zeros(m)
    for c in range(n_cat):
        rows = category == c
        if rows.any():
            log_relative_price[rows] = np.log(price_cents[rows] / np.median(price_cents[rows]))
    quality = 0.6 * brand_quality[brand] + 0.2 * log_relative_price + rng.normal(0.0, 0.3, m)

    # Popularity: Zipf by rank inside the category, better products tend to rank higher.
    popularity = np.zeros(m)
    rank_key = quality + rng.normal(0.0, 0.6, m)
    for c in range(n_cat):
        rows = np.flatnonzero(category == c)
        if len(rows) == 0:
            continue
        ranks = np.empty(len(rows))
        ranks[np.argsort(-rank_key[rows], kind="stable")] = np.arange(1, len(rows) + 1)
        z = ranks ** -params.popularity_exponent
        popularity[rows] = z / z.mean()

    is_consumable = np.array([c.is_consumable for c in categories])[category]
    low = np.array([c.repurchase_days[0] if c.repurchase_days else np.nan for c in categories])
    high = np.array([c.repurchase_days[1] if c.repurchase_days else np.nan for c in categories])
    repurchase_days = np.round(low[category] + rng.random(m) * (high - low)[category], 1)

    # Names: "<Brand> <adjective> <noun>".
    adjective = np.empty(m, dtype=object)
    noun = np.empty(m, dtype=object)
    for c, cat in enumerate(categories):
        rows = np.flatnonzero(category == c)
        adjectives = np.array(cat.adjectives, dtype=object)
        nouns = np.array(cat.nouns, dtype=object)
        adjective[rows] = adjectives[rng.integers(0, len(adjectives), len(rows))]
        noun[rows] = nouns[rng.integers(0, len(nouns), len(rows))]
    name = np.strings.add(
        np.strings.add(np.strings.add(brand_names_arr[brand], " "), adjective.astype(str)),
        np.strings.add(" ", noun.astype(str)),
    )

    # Shuffle so that product ids interleave categories like a real catalogue.
    perm = rng.permutation(m)
    category, brand, price_cents = category[perm], brand[perm], price_cents[perm]
    log_relative_price, quality, popularity = log_relative_price[perm], quality[perm], popularity[perm]
    is_consumable, repurchase_days, name = is_consumable[perm], repurchase_days[perm], name[perm]

    # Tastes, complements and seasons draw from their own streams, so that the catalogue
    # above stays the same whatever they do.
    taste, cluster = product_tastes(category, brand, n_cat, total_brands, centres,
                                    _stream(params.seed, 5))
    index_of = {c.name: i for i, c in enumerate(categories)}
    complement_categories = [[index_of[n] for n in c.complements if n in index_of] for c in categories]
    complement = complements(category, popularity, taste, complement_categories,
                             _stream(params.seed, 6))
    season_rng = _stream(params.seed, 7)
    category_peak = season_rng.uniform(0, 365.25, n_cat)
    season_peak = (category_peak[category] + season_rng.normal(0, 45, m)) % 365.25

    product_id = np.arange(1, m + 1, dtype=np.int64)
    cat_code = np.array([c.code for c in categories])[category]
    brand_code = np.strings.upper(np.strings.slice(brand_names_arr[brand], 0, 3))
    sku = np.strings.add(
        np.strings.add(np.strings.add(cat_code, "-"), np.strings.add(brand_code, "-")),
        np.strings.zfill(product_id.astype(str), 6),
    )
    created_us = start_us - (rng.random(m) * (_CATALOGUE_AGE_DAYS - 1) + 1) * US_PER_DAY
    created_us = created_us.astype(np.int64)
    updated_us = created_us + (rng.random(m) * (end_us - created_us)).astype(np.int64)

    products = Products(
        product_id=product_id, sku=sku, name=name, category=category, brand=brand,
        price_cents=price_cents, base_price_cents=price_cents, created_us=created_us,
        updated_us=updated_us, popularity=popularity, quality=quality,
        log_relative_price=log_relative_price, is_consumable=is_consumable,
        repurchase_days=repurchase_days, taste=taste, taste_cluster=cluster,
        complements=complement, season_peak=season_peak,
    )
    return products, brand_names_arr, brand_category


def _signup_times(
    params: SimulationParams, start_us: int, end_us: int, rng: np.random.Generator
) -> np.ndarray:
    """Sorted signup instants; the signup rate grows exponentially up to the window end."""
    first_us = start_us - int(params.signup_lead_days * US_PER_DAY)
    span = end_us - first_us
    growth = np.log(params.signup_growth)
    u = np.sort(rng.random(params.users))
    if abs(growth) < 1e-9:
        frac = u
    else:
        frac = np.log1p(u * np.expm1(growth)) / growth  # inverse CDF of density ~ exp(growth * t)
    return np.minimum(first_us + (frac * span).astype(np.int64), end_us - 1)


def _empty_users(n_categories: int, taste_dims: int) -> Users:
    k = n_categories + MAX_LIKED_BRANDS
    f64, i64 = np.empty(0), np.empty(0, dtype=np.int64)
    return Users(
        user_id=i64, email=np.empty(0, dtype=bytes), full_name=np.empty(0, dtype=bytes),
        country=np.empty(0, dtype=str), channel=np.empty(0, dtype=str), signup_us=i64,
        category_affinity=np.empty((0, n_categories)),
        liked_brand=np.empty((0, MAX_LIKED_BRANDS), dtype=np.int64),
        liked_brand_affinity=np.empty((0, MAX_LIKED_BRANDS)),
        price_level=i64, activity_rate=f64, engagement_days=f64, quiet_us=i64,
        taste=np.empty((0, taste_dims), dtype=np.float32),
        interest_cdf=np.empty((0, k), dtype=np.float32),
    )


def _draw_users(
    world: World, signup_us: np.ndarray, first_id: int, rng: np.random.Generator,
    taken_emails: set[bytes] | None,
) -> Users:
    """Users with the given signup instants and ids from ``first_id``: identity and tastes;
    their addresses differ from ``taken_emails``, which receives them (``None``: the first
    users, whose addresses nobody gathers yet)."""
    params, products, tables = world.params, world.products, world.tables
    n = len(signup_us)
    n_cat = world.n_categories

    country_w = np.array([w for _, w, _ in COUNTRIES])
    country_idx = rng.choice(len(COUNTRIES), size=n, p=country_w / country_w.sum())
    channel_w = np.array([w for _, w, _, _ in CHANNELS])
    channel_idx = rng.choice(len(CHANNELS), size=n, p=channel_w / channel_w.sum())
    full_name, email = make_people(country_idx, world.name_pools, rng, taken_emails)

    # Category tastes: Dirichlet around the categories' general appeal.
    interest = np.array([c.interest for c in scenario_named(params.scenario).categories])
    alpha = params.taste_concentration * interest / interest.mean()
    # One category at a time, in float32: a scalar shape is faster to draw, and shares of a
    # handful of categories need no finer steps. Categories x users: sums over categories are
    # then additions of long rows.
    g = np.empty((n_cat, n), dtype=np.float32)
    for c in range(n_cat):
        g[c] = rng.standard_gamma(alpha[c], size=n, dtype=np.float32)
    # Liked brands: mostly in liked categories, popular brands more often.
    n_liked = np.minimum(rng.poisson(params.liked_brands_mean, n), MAX_LIKED_BRANDS)
    r = rng.random((n, MAX_LIKED_BRANDS))
    category_affinity, slot_cat = _category_tastes(g, r, tables.seg_len[:n_cat] > 0)
    del g, r  # the draws' largest temporaries, freed before the next ones (peak memory)
    brand_mass = np.bincount(products.brand, weights=products.popularity, minlength=len(world.brand_names))
    in_use = np.arange(MAX_LIKED_BRANDS) < n_liked[:, None]
    liked = _drop_repeats(_pick_brand(slot_cat, in_use, brand_mass, world.brand_category, rng))
    del slot_cat, in_use
    liked_aff = np.where(liked >= 0, np.round(rng.uniform(0.4, 1.6, liked.shape), 3), 0.0)

    ps_shift = np.array([s for _, _, _, s in CHANNELS])[channel_idx]
    ps = params.price_sensitivity_median * np.exp(0.5 * rng.standard_normal(n)) + ps_shift
    grid_max = PRICE_SENSITIVITY_GRID[-1]
    price_level = np.round(np.clip(ps, 0.0, grid_max) * 10).astype(np.int64)

    channel_mult = np.array([mult for _, _, mult, _ in CHANNELS])
    mean_mult = float((channel_w / channel_w.sum()) @ channel_mult)
    sigma = params.activity_sigma
    activity = (params.mean_activity * channel_mult[channel_idx] / mean_mult
                * np.exp(sigma * rng.standard_normal(n) - sigma * sigma / 2))
    engagement = params.engagement_days * np.exp(params.engagement_sigma * rng.standard_normal(n))

    share = np.bincount(products.taste_cluster, minlength=params.taste_clusters) / len(products)
    taste = user_tastes(n, world.taste_centres, share, params.taste_scale, rng)

    interest_cdf = _interest_tables(
        category_affinity, liked, liked_aff, price_level, tables, world.brand_category,
        taste @ world.taste_centres.T.astype(np.float32),
    )
    return Users(
        user_id=np.arange(first_id, first_id + n, dtype=np.int64),
        email=email,
        full_name=full_name,
        country=np.array([c for c, _, _ in COUNTRIES])[country_idx],
        channel=np.array([c for c, _, _, _ in CHANNELS])[channel_idx],
        signup_us=signup_us.astype(np.int64),
        category_affinity=category_affinity,
        liked_brand=liked,
        liked_brand_affinity=liked_aff,
        price_level=price_level,
        activity_rate=activity,
        engagement_days=engagement,
        quiet_us=quiet_instant(signup_us, activity, engagement),
        taste=taste,
        interest_cdf=interest_cdf,
    )


def _category_tastes(
    g: np.ndarray, r: np.ndarray, has_products: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(category affinity, liked brands' categories) from Gamma draws ``g`` (categories x
    users, normalised to Dirichlet shares) and uniforms ``r`` (users x brand slots: each slot's
    category drawn from the shares of the categories that have products), a block of users at
    a time (see ``_interest_tables``). Sums and running sums over the categories run a
    category (a long row of users) at a time: numpy is many times slower along short rows."""
    n_cat, n = g.shape
    affinity = np.empty((n, n_cat))
    slot_cat = np.empty(r.shape, dtype=np.int64)
    for b in user_blocks(n):
        share = g[:, b] + np.float32(1e-12)
        share /= share.sum(axis=0)
        affinity[b] = np.clip(np.log(n_cat * share), _AFFINITY_FLOOR, np.log(n_cat)).T
        cdf = share * has_products[:, None]
        for c in range(1, n_cat):
            cdf[c] += cdf[c - 1]
        cdf /= cdf[-1]
        # The slot's category counts the cumulative shares below its uniform, a category
        # at a time (a users x slots x categories comparison costs far more).
        rb = r[b]
        count = np.zeros(rb.shape, dtype=np.min_scalar_type(n_cat))
        for c in range(n_cat):
            count += cdf[c, :, None] < rb
        slot_cat[b] = np.minimum(count, n_cat - 1)
    return affinity, slot_cat


def _pick_brand(
    slot_cat: np.ndarray, in_use: np.ndarray, brand_mass: np.ndarray, brand_category: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """For each slot in use (``in_use``), a brand of the slot's category drawn in proportion to
    ``brand_mass``; -1 in the other slots."""
    # One cumulative array over all brands (grouped by category), offset so that category c
    # owns the interval [c, c + 1): a single searchsorted then samples every slot.
    n_cat = int(slot_cat.max(initial=0)) + 1
    n_cat = max(n_cat, int(brand_category.max(initial=0)) + 1)
    totals = np.bincount(brand_category, weights=brand_mass, minlength=n_cat)
    within = np.zeros_like(brand_mass)
    for c in range(n_cat):
        rows = np.flatnonzero(brand_category == c)
        if totals[c] > 0:
            within[rows] = np.cumsum(brand_mass[rows]) / totals[c]
            within[rows[-1]] = 1.0  # no rounding gap at the end of the category
    keys = brand_category + within
    # Every slot's uniform is drawn (the stream stays the same whatever slots are used), but
    # only the slots in use search for their brand: most users like fewer brands than slots.
    target = slot_cat + rng.random(slot_cat.shape) * (1 - 1e-12)
    out = np.full(slot_cat.shape, -1, dtype=np.int64)
    picked = np.searchsorted(keys, target[in_use], side="left")
    picked = np.minimum(picked, len(brand_mass) - 1)
    ok = brand_category[picked] == slot_cat[in_use]  # False only for a category without brands
    out[in_use] = np.where(ok, picked, -1)
    return out


def _drop_repeats(liked: np.ndarray) -> np.ndarray:
    """Empty the slots that repeat an earlier slot's brand, so each liked brand counts once."""
    out = liked.copy()
    # Column by column: numpy's any() along rows this short is many times slower.
    for j in range(1, out.shape[1]):
        repeat = out[:, 0] == out[:, j]
        for i in range(1, j):
            repeat |= out[:, i] == out[:, j]
        out[repeat, j] = -1
    return out


def _row_max(a: np.ndarray) -> np.ndarray:
    """The largest value of each row of a 2-D array with few columns, a column at a time
    (numpy's reduction along short rows is many times slower)."""
    out = a[:, 0].copy()
    for j in range(1, a.shape[1]):
        np.maximum(out, a[:, j], out=out)
    return out


def _interest_tables(
    category_affinity: np.ndarray, liked: np.ndarray, liked_aff: np.ndarray,
    price_level: np.ndarray, tables: SegmentTables, brand_category: np.ndarray,
    cluster_score: np.ndarray,
) -> np.ndarray:
    """Cumulative mixture weights (N, C + MAX_LIKED_BRANDS) that make views exactly ~
    popularity x exp(affinity) (``_interest_rows``), a block of users at a time: each row
    depends only on its user, and small blocks keep every temporary in cache instead of
    faulting in fresh memory for each of them."""
    n = len(category_affinity)
    cdf = np.empty((n, category_affinity.shape[1] + MAX_LIKED_BRANDS), dtype=np.float32)
    for b in user_blocks(n):
        cdf[b] = _interest_rows(category_affinity[b], liked[b], liked_aff[b], price_level[b],
                                tables, brand_category, cluster_score[b])
    return cdf


def _interest_rows(
    category_affinity: np.ndarray, liked: np.ndarray, liked_aff: np.ndarray,
    price_level: np.ndarray, tables: SegmentTables, brand_category: np.ndarray,
    cluster_score: np.ndarray,
) -> np.ndarray:
    """Mixture weights that make views exactly ~ popularity x exp(affinity), as a cdf per user.

    Interest c (a category) weighs exp(category_affinity[u, c]) * Z_l(c) and interest "liked
    brand b" weighs exp(category_affinity[u, c(b)]) * (exp(a_ub) - 1) * Z_l(b), where Z_l(s)
    is the total of popularity * exp(quality - s_l * log_relative_price + taste term) over
    segment s: the sum over clusters k of exp(cluster_score[u, k]) x the mass of cell (s, k).
    """
    n, n_cat = category_affinity.shape
    # In float32 throughout: the cdf is stored so, and float32 exponentials and logarithms
    # cost half as much.
    # log sum_k exp(score[u, k] + log_mass[l, s, k]), factored as exp(score - its max) times
    # the cells' masses relative to the segment's largest (no overflow, few exponentials).
    score_top = _row_max(cluster_score)[:, None]
    e_score = np.exp(cluster_score - score_top)
    relative = tables.cell_weight32
    total = np.empty((n, n_cat + MAX_LIKED_BRANDS), dtype=np.float32)
    # Categories: one matrix product per price level, over that level's users (grouped by
    # one sort rather than a pass over the block per level).
    by_level = np.argsort(price_level, kind="stable")
    bounds = np.searchsorted(price_level[by_level], np.arange(relative.shape[0] + 1))
    for level in np.flatnonzero(bounds[1:] > bounds[:-1]):
        rows = by_level[bounds[level]:bounds[level + 1]]
        total[rows, :n_cat] = e_score[rows] @ relative[level, :n_cat].T
    b = np.maximum(liked, 0)
    total[:, n_cat:] = 0.0
    u, slot = np.nonzero(liked >= 0)
    # Gathered as rows of 2-D tables by np.take: several times faster than fancy indexing.
    brand_cells = np.take(relative.reshape(-1, relative.shape[2]),
                          price_level[u] * relative.shape[1] + n_cat + liked[u, slot], axis=0)
    brand_cells *= np.take(e_score, u, axis=0)
    total[u, n_cat + slot] = brand_cells.sum(axis=1)
    segments = np.concatenate((np.broadcast_to(np.arange(n_cat), (n, n_cat)), n_cat + b), axis=1)
    top = tables.segment_top.astype(np.float32).reshape(-1)
    with np.errstate(divide="ignore"):
        mass = np.log(total)
    mass += np.take(top, price_level[:, None] * tables.segment_top.shape[1] + segments)
    mass += score_top
    logw = np.empty((n, n_cat + MAX_LIKED_BRANDS), dtype=np.float32)
    logw[:, :n_cat] = category_affinity + mass[:, :n_cat]
    rows = np.arange(n)[:, None]
    with np.errstate(divide="ignore"):
        brand_part = (
            category_affinity[rows, brand_category[b]].astype(np.float32)
            + np.log(np.expm1(np.where(liked >= 0, liked_aff, 0.0).astype(np.float32)))
            + mass[:, n_cat:]
        )
    logw[:, n_cat:] = np.where(liked >= 0, brand_part, -np.inf)
    # The normalised running sum along each user's short row, computed on the transpose a
    # row (an interest) at a time: many times faster than numpy along rows this short.
    w = np.ascontiguousarray(logw.T)
    w -= _row_max(logw)
    np.exp(w, out=w)
    for j in range(1, len(w)):
        w[j] += w[j - 1]
    w /= w[-1]
    cdf = w.T
    return cdf
