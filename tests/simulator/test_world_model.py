"""The world model: users, catalogue, tastes, the ground-truth tables and their contract."""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from faker import Faker
from scipy import stats

from shopcore.events import VIEW
from simulator.catalog import CATEGORIES, CHANNELS, COUNTRIES
from simulator.generate import new_state
from simulator.params import SimulationParams
from simulator.people import (
    _POOL_DRAWS,
    _ascii_slug,
    _unique_addresses,
    build_name_pools,
)
from simulator.sampling import PRICE_SENSITIVITY_GRID, build_segment_tables
from simulator.seasonality import to_us
from simulator.sessions import browse
from simulator.world import MAX_LIKED_BRANDS, Products, Users, World, build_world

END = datetime(2025, 12, 15, tzinfo=timezone.utc)
MIGRATIONS = Path(__file__).resolve().parents[2] / "shopcore" / "migrations"


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(SimulationParams(end=END))


def _ddl_columns(folder: Path) -> dict[str, list[str]]:
    """Column names of every ``create table truth.<name> (...)`` in the migrations."""
    tables: dict[str, list[str]] = {}
    text = "\n".join(f.read_text() for f in sorted(folder.glob("*.sql")))
    for name, body in re.findall(r"create table truth\.(\w+)\s*\((.*?)\n\);", text, re.S):
        cols = []
        for line in body.splitlines():
            line = line.strip()
            if line and not line.startswith(("primary key", "--")):
                cols.append(line.split()[0])
        tables[name] = cols
    return tables


# ----------------------------------------------------------------------------- users


def test_addresses_made_unique_by_arrays_as_row_by_row() -> None:
    """A new world's addresses are made unique by a hash sort; the result is the row-by-row
    one (the j-th repeat gets number j + 1), and where a numbered address meets an existing
    one ("ann2@x" below), the smallest free number still wins."""
    plain = [b"ann@x", b"bo@y", b"ann@x", b"bo@y", b"ann@x", b"cy@x"]
    meeting = [b"ann@x", b"ann2@x", b"ann@x", b"bo@y"]
    # Numbered addresses longer than any given one ("a11@x"), with and without a meeting.
    longer = [b"a@x"] * 12
    longer_meeting = [b"a@x"] * 11 + [b"a2@x"]
    for listed in (plain, meeting, longer, longer_meeting, [b"only@x"]):
        addresses = np.array(listed)
        by_rows = _unique_addresses(addresses.copy(), set())
        by_arrays = _unique_addresses(addresses.copy(), None)
        assert by_arrays.tolist() == by_rows.tolist()
        assert len(set(by_arrays.tolist())) == len(listed)
    assert _unique_addresses(np.array(plain), None).tolist() == [
        b"ann@x", b"bo@y", b"ann2@x", b"bo2@y", b"ann3@x", b"cy@x"]
    assert _unique_addresses(np.array(meeting), None).tolist() == [b"ann@x", b"ann2@x", b"ann3@x", b"bo@y"]


def test_name_pools_are_the_names_faker_draws_for_each_locale() -> None:
    """The pools are drawn from each locale's person provider directly, the weighted picks
    with their running weights summed once: the same names as through Faker's own API (its
    weighted tables, plain tuples, and pl_PL's own last_name), less those without a slug."""
    pools = build_name_pools(7)
    for locale in sorted({loc for _, _, loc in COUNTRIES}):
        fake = Faker(locale, providers=["faker.providers.person"])
        fake.seed_instance(7)
        first = sorted({fake.first_name() for _ in range(_POOL_DRAWS)})
        last = sorted({fake.last_name() for _ in range(_POOL_DRAWS)})
        assert [n.decode() for n in pools[locale].first] == [n for n in first if _ascii_slug(n)], locale
        assert [n.decode() for n in pools[locale].last] == [n for n in last if _ascii_slug(n)], locale


def test_users_have_ids_names_and_unique_emails(world: World) -> None:
    u = world.users
    assert len(u) == 40000
    assert np.array_equal(u.user_id, np.arange(1, 40001))
    assert len(np.unique(u.email)) == len(u)
    assert all(re.fullmatch(r"[a-z0-9._]+@[a-z0-9.]+\.[a-z]+", e) for e in np.strings.decode(u.email[:500]))
    assert all(" " in n and n.strip() == n for n in np.strings.decode(u.full_name[:500], "utf-8"))
    assert set(u.country) <= {c for c, _, _ in COUNTRIES}
    assert set(u.channel) == {c for c, *_ in CHANNELS}
    # Weighted: the most common country is the US, the most common channel is organic.
    countries, counts = np.unique(u.country, return_counts=True)
    assert countries[counts.argmax()] == "US"
    channels, counts = np.unique(u.channel, return_counts=True)
    assert channels[counts.argmax()] == "organic"


def test_the_awake_index_spans_the_signup_days_only(world: World) -> None:
    """The index behind ``World.awake_rates`` groups users by signup day from the first signup
    (a first day at the epoch made every simulated day search some 20,000 empty days)."""
    first_day, _, _, day_start = world._signup_index()
    signup_day = world.users.signup_us // (86_400 * 10**6)
    assert first_day == signup_day.min()
    assert len(day_start) == signup_day.max() - signup_day.min() + 2
    assert np.array_equal(np.diff(day_start), np.bincount(signup_day - first_day))


def test_signups_spread_over_a_year_before_the_window_and_grow(world: World) -> None:
    s = world.users.signup_us
    start_us, end_us = to_us(world.params.start), to_us(END)
    lead_us = to_us(world.params.start - timedelta(days=world.params.signup_lead_days))
    assert s.min() >= lead_us and s.max() < end_us
    assert s.min() < lead_us + 10 * 86_400_000_000  # it really starts that long earlier
    assert np.all(np.diff(s) >= 0)  # ids follow signup order
    quarter = (end_us - lead_us) // 4
    first_q = np.sum(s < lead_us + quarter)
    last_q = np.sum(s >= end_us - quarter)
    assert last_q > 1.5 * first_q  # more signups later
    assert 0.4 < np.mean(s >= start_us) < 0.9  # most accounts are new visitors of the window


def test_tastes_are_sparse_and_heavy_tailed(world: World) -> None:
    u = world.users
    share = np.exp(u.category_affinity)
    share /= share.sum(axis=1, keepdims=True)
    top3 = np.sort(share, axis=1)[:, -3:].sum(axis=1)
    assert np.median(top3) > 0.6  # a few categories hold most of a taste (uniform: 3/12)
    n_liked = (u.liked_brand >= 0).sum(axis=1)
    assert n_liked.max() <= MAX_LIKED_BRANDS and 0.8 < n_liked.mean() < 2.0
    assert np.all(u.liked_brand_affinity[u.liked_brand >= 0] > 0)
    for row in u.liked_brand[:200]:  # a liked brand appears once per user
        liked = row[row >= 0]
        assert len(np.unique(liked)) == len(liked)
    assert np.isin(u.price_sensitivity, PRICE_SENSITIVITY_GRID).all()
    assert 0.4 < np.median(u.price_sensitivity) < 1.2
    a = u.activity_rate
    assert a.min() > 0 and np.percentile(a, 99) > 8 * np.median(a)  # heavy tail


# ----------------------------------------------------------------------------- products


def test_catalogue(world: World) -> None:
    p = world.products
    assert np.array_equal(p.product_id, np.arange(1, 1001))
    assert len(np.unique(p.sku)) == len(p)
    assert np.all(p.price_cents > 0)
    assert np.all(p.created_us < to_us(world.params.start))
    assert np.all(p.updated_us >= p.created_us) and np.all(p.updated_us <= to_us(END))
    assert set(np.unique(p.category)) == set(range(len(CATEGORIES)))
    # Names start with the brand; brands belong to exactly one category.
    assert all(name.startswith(world.brand_names[b] + " ") for name, b in zip(p.name[:300], p.brand[:300]))
    assert np.array_equal(world.brand_category[p.brand], p.category)
    # Ids interleave categories (not one block per category).
    assert len(np.unique(p.category[:50])) > 5


def test_prices_are_log_normal_per_category_and_relative_price_matches(world: World) -> None:
    p = world.products
    for c, cat in enumerate(CATEGORIES):
        prices = p.base_price_cents[p.category == c] / 100
        assert 0.4 * cat.median_price < np.median(prices) < 2.5 * cat.median_price
        expected = np.log(prices / np.median(prices))
        assert np.allclose(p.log_relative_price[p.category == c], expected)
    electronics = p.price_cents[p.category == 0]
    groceries = p.price_cents[world.category_names[p.category] == "Groceries"]
    assert np.median(electronics) > 5 * np.median(groceries)


def test_popularity_is_zipf_like_within_category(world: World) -> None:
    p = world.products
    for c in range(len(CATEGORIES)):
        pop = np.sort(p.popularity[p.category == c])[::-1]
        assert np.isclose(pop.mean(), 1.0)
        top = pop[: max(1, len(pop) // 5)].sum() / pop.sum()
        assert top > 0.5  # the top 20% of a category hold most of its popularity


def test_consumables_and_durables(world: World) -> None:
    p = world.products
    names = world.category_names[p.category]
    consumable_cats = {"Groceries", "Beauty", "Pet Supplies", "Household"}
    assert np.array_equal(p.is_consumable, np.isin(names, list(consumable_cats)))
    assert np.all(np.isnan(p.repurchase_days[~p.is_consumable]))
    cycle = p.repurchase_days[p.is_consumable]
    assert np.all((cycle >= 7) & (cycle <= 90))


# ----------------------------------------------------------------------------- truth tables


def test_truth_tables_match_the_ddl(world: World) -> None:
    truth = world.truth_tables()
    ddl = _ddl_columns(MIGRATIONS)
    for table, columns in truth.items():
        assert list(columns) == ddl[table], table
        lengths = {len(v) for v in columns.values()}
        assert len(lengths) == 1, f"{table} has columns of different lengths"
    n_users, n_cat = world.n_users, world.n_categories
    assert len(truth["users"]["user_id"]) == n_users
    assert truth["user_category_affinity"]["affinity"].shape == (n_users, n_cat)
    assert list(truth["categories"]["category"]) == list(world.category_names)
    assert list(truth["categories"]["category_index"]) == list(range(1, n_cat + 1))
    assert len(truth["products"]["product_id"]) == world.n_products


def test_truth_primary_keys_are_unique_and_brand_rows_non_zero(world: World) -> None:
    truth = world.truth_tables()
    assert len(np.unique(truth["user_category_affinity"]["user_id"])) == world.n_users
    assert len(np.unique(truth["categories"]["category"])) == world.n_categories
    uba = truth["user_brand_affinity"]
    keys = np.strings.add(np.strings.add(uba["user_id"].astype(str), "|"), uba["brand"])
    assert len(np.unique(keys)) == len(keys)
    assert np.all(uba["affinity"] != 0)
    assert set(uba["brand"]) <= set(world.brand_names)
    prod = truth["products"]
    assert prod["is_consumable"].dtype == bool
    assert np.all(np.isnan(prod["repurchase_days"]) == ~prod["is_consumable"])


def test_affinity_follows_the_documented_formula_from_truth_tables(world: World) -> None:
    """Recompute affinity(u, p) only from truth.* and raw.products rows, as the SQL view will."""
    truth = world.truth_tables()
    products = world.products_table()
    cat_of = products["category"]
    brand_of = products["brand"]
    uca = truth["user_category_affinity"]
    uba = truth["user_brand_affinity"]
    ps = dict(zip(truth["users"]["user_id"], truth["users"]["price_sensitivity"]))
    # log_relative_price = ln(base price / median base price of its category); the base price
    # is the first row of each product in truth.product_prices.
    history = truth["product_prices"]
    _, first = np.unique(history["product_id"], return_index=True)
    price = history["price_cents"][first] / 100
    lrp = np.empty(len(price))
    for c in np.unique(cat_of):
        rows = cat_of == c
        lrp[rows] = np.log(price[rows] / np.median(price[rows]))
    assert np.allclose(lrp, truth["products"]["log_relative_price"])
    quality = truth["products"]["quality"]
    product_taste = truth["product_taste"]["taste"]
    assert product_taste.shape == (world.n_products, world.params.taste_dims)
    assert np.array_equal(truth["product_taste"]["product_id"], products["product_id"])
    user_taste = truth["user_taste"]["taste"]
    assert np.array_equal(truth["user_taste"]["user_id"], truth["users"]["user_id"])
    for user_id in (1, 2, 777, 4321, 40000):
        row = np.flatnonzero(uca["user_id"] == user_id)[0]
        cat_aff = dict(zip(truth["categories"]["category"], uca["affinity"][row]))
        brand_aff = {b: a for u, b, a in zip(uba["user_id"], uba["brand"], uba["affinity"]) if u == user_id}
        expected = (
            np.array([cat_aff[c] for c in cat_of])
            + np.array([brand_aff.get(b, 0.0) for b in brand_of])
            + quality
            - ps[user_id] * lrp
            + product_taste @ user_taste[user_id - 1]
        )
        assert np.allclose(world.affinity(user_id - 1), expected, atol=1e-5)  # tastes are float32
        assert np.allclose(
            world.pair_affinity(np.full(world.n_products, user_id - 1), np.arange(world.n_products)),
            expected, atol=1e-5,
        )


def _view_counts(world: World, user: int, n_sessions: int, seed: int) -> np.ndarray:
    """Products of the first view of each session (views of one session share a taste cluster,
    so only one per session is an independent draw)."""
    rows = browse(world, new_state(world), np.full(n_sessions, user), np.full(n_sessions, to_us(END)),
                  np.random.default_rng(seed))
    view = np.flatnonzero(rows.event_type == VIEW)
    _, first = np.unique(rows.session[view], return_index=True)
    return np.bincount(rows.product[view[first]], minlength=world.n_products)


def _chi2_per_dof(observed: np.ndarray, weights: np.ndarray) -> float:
    expected = observed.sum() * weights / weights.sum()
    ok = expected >= 5
    return float(((observed[ok] - expected[ok]) ** 2 / expected[ok]).sum() / (ok.sum() - 1))


@pytest.fixture(scope="module")
def still_world() -> World:
    """No price moves, no complements: views depend on the affinity alone."""
    return build_world(SimulationParams(users=3000, end=END, price_change_days=0.0, promotion_days=0.0,
                                        complement_view_rate=0.0))


def test_views_follow_popularity_times_exp_affinity_exactly(still_world: World) -> None:
    """The sampler draws views with probability popularity * exp(affinity), taste term included,
    not an approximation."""
    world = still_world
    for user in (0, 2024, 2999):
        observed = _view_counts(world, user, 60_000, 7)
        # Chi-square / dof is 1 +- sqrt(2 / dof) (about 0.05) for an exact sampler.
        assert _chi2_per_dof(observed, world.products.popularity * np.exp(world.affinity(user))) < 1.25, user


def test_the_sampler_draws_every_cell_in_proportion_to_its_weights() -> None:
    """Each (level, cell) draw lands on the cell's products in proportion to popularity x
    exp(quality - s x log_relative_price): cells of one product, skewed weights and both
    orders (categories, brands) included."""
    rng = np.random.default_rng(3)
    m = 40
    category, brand = rng.integers(0, 2, m), rng.integers(0, 5, m)
    cluster = rng.integers(0, 3, m)
    cluster[0] = 9  # a cell of its own
    popularity, quality, lrp = rng.pareto(1.0, m) + 0.01, rng.normal(0, 1, m), rng.normal(0, 1, m)
    tables = build_segment_tables(category, brand, cluster, 2, 5, 10, popularity, quality, lrp)
    n = 40_000
    for level in (0, 13, 25):
        weight = popularity * np.exp(quality - PRICE_SENSITIVITY_GRID[level] * lrp)
        for cell in (category[0] * 10 + 9, (2 + brand[0]) * 10 + 9,
                     category[1] * 10 + cluster[1], (2 + brand[2]) * 10 + cluster[2]):
            drawn = tables.sample(np.full(n, cell), np.full(n, level), rng.random(n))
            members = np.flatnonzero(np.isin(np.arange(m), tables.order[int(cell >= 20)][
                tables.cell_start[cell]:tables.cell_start[cell] + tables.cell_len[cell]]))
            assert np.isin(drawn, members).all()
            observed = np.bincount(drawn, minlength=m)[members]
            expected = n * weight[members] / weight[members].sum()
            # Pearson's test over all products (a few have tiny expectations: exact enough at
            # these counts); a wrong share of a few per cent gives p far below 1e-4.
            if len(members) > 1:
                assert stats.chisquare(observed, expected).pvalue > 1e-4, (level, cell)


def test_a_promotion_draws_views_through_price_sensitivity() -> None:
    """On a promotion day views lean to the discounted products, the more so the more
    price-sensitive the user."""
    world = build_world(SimulationParams(users=3000, end=END, complement_view_rate=0.0))
    h = world.prices
    day = np.bincount(h.day[h.promotion] - h.base_day).argmax()  # the busiest promotion day
    at = (h.base_day + day) * 86_400_000_000 + 43_200_000_000
    moment = world.moment(at)
    on_promo = moment.price_log_ratio < -0.05
    lifts = []
    for level in (1, 25):  # nearly insensitive and very sensitive users
        users = np.flatnonzero(world.users.price_level == level)[:30]
        rows = browse(world, new_state(world), np.repeat(users, 500), np.full(len(users) * 500, at),
                      np.random.default_rng(1))
        views = rows.product[rows.event_type == VIEW]
        still = browse(world, new_state(world), np.repeat(users, 500),
                       np.full(len(users) * 500, to_us(world.params.start) - 86_400_000_000),
                       np.random.default_rng(1))
        base = still.product[still.event_type == VIEW]
        lifts.append(on_promo[views].mean() / on_promo[base].mean())
    assert lifts[0] < 1.2  # price sensitivity 0.1: promotions change little
    assert lifts[1] > 1.1 * lifts[0]


def test_tastes_are_correlated_with_category_and_brand_but_not_determined(world: World) -> None:
    p, d = world.products, world.params.taste_dims
    assert p.taste.shape == (world.n_products, d) and world.users.taste.shape == (world.n_users, d)
    clusters = world.params.taste_clusters
    # A category spreads over several clusters, and so does a brand with several products ...
    per_category = [len(np.unique(p.taste_cluster[p.category == c])) for c in range(world.n_categories)]
    assert min(per_category) >= 3
    big_brands = [b for b in np.unique(p.brand) if np.sum(p.brand == b) >= 15]
    assert big_brands and all(len(np.unique(p.taste_cluster[p.brand == b])) >= 2 for b in big_brands)
    # ... yet clusters are far from uniform inside a category (correlation).
    top = [np.bincount(p.taste_cluster[p.category == c], minlength=clusters).max() / np.sum(p.category == c)
           for c in range(world.n_categories)]
    assert np.median(top) > 2.0 / clusters
    # The taste term spreads over the catalogue by about taste_scale for a typical user.
    spread = np.std(world.users.taste[:500] @ p.taste.T, axis=1)
    assert 0.7 * world.params.taste_scale < np.median(spread) < 1.4 * world.params.taste_scale
    # Two products of one brand (so one category) but different clusters appeal differently.
    b = p.brand == big_brands[0]
    a, c = np.flatnonzero(b)[0], np.flatnonzero(b & (p.taste_cluster != p.taste_cluster[np.flatnonzero(b)[0]]))[0]
    assert np.std(world.users.taste[:500] @ (p.taste[a] - p.taste[c])) > 0.3


def test_complements_belong_to_complement_categories(world: World) -> None:
    p = world.products
    comp = p.complements
    assert comp.shape[1] >= 1 and np.all(comp < world.n_products)
    has = comp >= 0
    assert has.any(axis=1).mean() > 0.9
    names = world.category_names
    allowed = {c.name: set(c.complements) for c in CATEGORIES}
    rows, slots = np.nonzero(has)
    for r, s in zip(rows[:2000], slots[:2000]):
        assert names[p.category[comp[r, s]]] in allowed[names[p.category[r]]]
        assert comp[r, s] != r
    # Empty slots come last, and a complement appears once per product.
    assert np.all(np.diff(has.astype(int), axis=1) <= 0)


def test_prices_move_with_changes_and_promotions(world: World) -> None:
    h, p = world.prices, world.products
    start_day, end_day = to_us(world.params.start) // 86_400_000_000, to_us(END) // 86_400_000_000
    first = np.unique(h.product, return_index=True)[1]
    assert np.array_equal(h.product[first], np.arange(world.n_products))
    assert np.all(h.day[first] == start_day) and np.array_equal(h.price_cents[first], p.base_price_cents)
    assert np.all(h.day < end_day + 1) and np.all(h.price_cents > 0)
    changes_per_product = len(h.product) / world.n_products - 1
    assert 2 < changes_per_product < 8
    assert 0.05 < h.promotion.mean() < 0.5
    # A promotion is cheaper than the price just before it.
    promo = np.flatnonzero(h.promotion[1:] & (h.product[1:] == h.product[:-1])) + 1
    assert np.mean(h.price_cents[promo] < h.price_cents[promo - 1]) > 0.95
    # raw.products holds the price at the window end; updated_at moves with it.
    assert np.array_equal(p.price_cents, h.price_at(np.arange(world.n_products), to_us(END) - 1))
    moved = p.price_cents != p.base_price_cents
    assert 0.2 < moved.mean() < 0.9
    assert np.all(p.updated_us[moved] >= h.last_change_us(world.n_products)[moved])


def test_a_still_catalogue_keeps_its_prices() -> None:
    w = build_world(SimulationParams(users=50, products=100, end=END, price_change_days=0.0,
                                     promotion_days=0.0))
    assert len(w.prices.product) == w.n_products
    assert np.array_equal(w.products.price_cents, w.products.base_price_cents)


# ----------------------------------------------------------------------------- determinism


def _equal_dataclasses(a: Users | Products, b: Users | Products) -> bool:
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            return False
    return True


def test_same_seed_same_world_other_seed_other_world() -> None:
    params = SimulationParams(users=800, products=300, end=END)
    a, b = build_world(params), build_world(params)
    assert _equal_dataclasses(a.users, b.users)
    assert _equal_dataclasses(a.products, b.products)
    assert np.array_equal(a.brand_names, b.brand_names)
    c = build_world(params.replace(seed=43))
    assert not np.array_equal(a.users.email, c.users.email)
    assert not np.array_equal(a.products.price_cents, c.products.price_cents)
    assert not np.array_equal(a.users.category_affinity, c.users.category_affinity)


def test_tiny_worlds_build() -> None:
    w = build_world(SimulationParams(users=1, products=1, days=1, end=END))
    assert w.n_users == 1 and w.n_products == 1
    assert np.isclose(w.users.interest_cdf[0, -1], 1.0)
    assert w.affinity(0).shape == (1,)


# ----------------------------------------------------------------------------- live mode


def test_users_added_tick_by_tick_are_the_users_added_at_once() -> None:
    """A live stream adds a few users a tick and reads them between ticks (into spare rows of the
    users' columns): the same users as adding them at once, and what was read earlier stays."""
    from simulator.runner import _add_users

    params = SimulationParams(users=300, products=200, end=END)
    ticked, at_once = build_world(params), build_world(params)
    times = [END + timedelta(seconds=i) for i in range(6)]
    earlier = []
    for tick in range(3):
        _add_users(ticked, times[tick * 2:(tick + 1) * 2])
        earlier.append((ticked.users.user_id, ticked.users.email, ticked.users.taste))
    _add_users(at_once, times)
    for column in fields(Users):
        assert np.array_equal(getattr(ticked.users, column.name), getattr(at_once.users, column.name)), column.name
    for tick, (user_id, email, taste) in enumerate(earlier):
        assert np.array_equal(user_id, np.arange(1, 303 + 2 * tick))
        assert np.array_equal(email, at_once.users.email[:len(user_id)])
        assert np.array_equal(taste, at_once.users.taste[:len(user_id)])


def test_add_users_continues_ids_and_keeps_emails_unique() -> None:
    world = build_world(SimulationParams(users=300, products=200, end=END))
    rng = np.random.default_rng(3)
    times = [END + timedelta(minutes=i) for i in range(50)]
    ids = world.add_users(50, times, rng)
    assert np.array_equal(ids, np.arange(301, 351))
    assert world.n_users == 350
    assert len(np.unique(world.users.email)) == 350
    assert np.array_equal(world.users.signup_us[-50:], [to_us(t) for t in times])
    assert world.users.interest_cdf.shape[0] == 350
    truth = world.truth_tables()
    assert truth["users"]["user_id"].max() == 350
    ids = world.add_users(2, np.array(["2025-12-16T00:00", "2025-12-16T01:00"], dtype="datetime64[us]"), rng)
    assert list(ids) == [351, 352]
    with pytest.raises(ValueError, match="signup_times"):
        world.add_users(3, times[:2], rng)
