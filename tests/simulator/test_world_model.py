"""The world model: users, catalogue, tastes, the ground-truth tables and their contract."""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from shopcore.events import VIEW
from simulator.catalog import CATEGORIES, CHANNELS, COUNTRIES
from simulator.generate import new_state
from simulator.params import SimulationParams
from simulator.sampling import PRICE_SENSITIVITY_GRID
from simulator.seasonality import to_us
from simulator.sessions import browse
from simulator.world import MAX_LIKED_BRANDS, Products, Users, World, build_world

END = datetime(2025, 12, 15, tzinfo=timezone.utc)
TRUTH_DDL = Path(__file__).resolve().parents[2] / "shopcore" / "migrations" / "0002_truth_schema.sql"


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(SimulationParams(end=END))


def _ddl_columns(path: Path) -> dict[str, list[str]]:
    """Column names of every ``create table truth.<name> (...)`` in a migration."""
    tables: dict[str, list[str]] = {}
    for name, body in re.findall(r"create table truth\.(\w+)\s*\((.*?)\n\);", path.read_text(), re.S):
        cols = []
        for line in body.splitlines():
            line = line.strip()
            if line and not line.startswith(("primary key", "--")):
                cols.append(line.split()[0])
        tables[name] = cols
    return tables


# ----------------------------------------------------------------------------- users


def test_users_have_ids_names_and_unique_emails(world: World) -> None:
    u = world.users
    assert len(u) == 5000
    assert np.array_equal(u.user_id, np.arange(1, 5001))
    assert len(np.unique(u.email)) == len(u)
    assert all(re.fullmatch(r"[a-z0-9._]+@[a-z0-9.]+\.[a-z]+", e) for e in u.email[:500])
    assert all(" " in n and n.strip() == n for n in u.full_name[:500])
    assert set(u.country) <= {c for c, _, _ in COUNTRIES}
    assert set(u.channel) == {c for c, *_ in CHANNELS}
    # Weighted: the most common country is the US, the most common channel is organic.
    countries, counts = np.unique(u.country, return_counts=True)
    assert countries[counts.argmax()] == "US"
    channels, counts = np.unique(u.channel, return_counts=True)
    assert channels[counts.argmax()] == "organic"


def test_signups_spread_over_a_year_before_the_window_and_grow(world: World) -> None:
    s = world.users.signup_us
    start_us, end_us = to_us(world.params.start), to_us(END)
    lead_us = to_us(world.params.start - timedelta(days=365))
    assert s.min() >= lead_us and s.max() < end_us
    assert s.min() < lead_us + 10 * 86_400_000_000  # it really starts about a year earlier
    assert np.all(np.diff(s) >= 0)  # ids follow signup order
    quarter = (end_us - lead_us) // 4
    first_q = np.sum(s < lead_us + quarter)
    last_q = np.sum(s >= end_us - quarter)
    assert last_q > 1.5 * first_q  # more signups later
    assert 0.1 < np.mean(s >= start_us) < 0.5  # a good share signs up during the window


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
        prices = p.price_cents[p.category == c] / 100
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
    ddl = _ddl_columns(TRUTH_DDL)
    for table, columns in truth.items():
        assert list(columns) == ddl[table], table
        lengths = {len(v) for v in columns.values()}
        assert len(lengths) == 1, f"{table} has columns of different lengths"
    n_users, n_cat = world.n_users, world.n_categories
    assert len(truth["users"]["user_id"]) == n_users
    assert len(truth["user_category_affinity"]["user_id"]) == n_users * n_cat
    assert len(truth["products"]["product_id"]) == world.n_products


def test_truth_primary_keys_are_unique_and_brand_rows_non_zero(world: World) -> None:
    truth = world.truth_tables()
    uca = truth["user_category_affinity"]
    keys = np.strings.add(np.strings.add(uca["user_id"].astype(str), "|"), uca["category"])
    assert len(np.unique(keys)) == len(keys)
    uba = truth["user_brand_affinity"]
    keys = np.strings.add(np.strings.add(uba["user_id"].astype(str), "|"), uba["brand"])
    assert len(np.unique(keys)) == len(keys)
    assert np.all(uba["affinity"] != 0)
    assert set(uba["brand"]) <= set(world.brand_names)
    assert set(uca["category"]) == set(world.category_names)
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
    # log_relative_price = ln(price / median price of its category), from raw prices.
    price = products["price_cents"] / 100
    lrp = np.empty(len(price))
    for c in np.unique(cat_of):
        rows = cat_of == c
        lrp[rows] = np.log(price[rows] / np.median(price[rows]))
    assert np.allclose(lrp, truth["products"]["log_relative_price"])
    quality = truth["products"]["quality"]
    for user_id in (1, 2, 777, 4321, 5000):
        cat_aff = {c: a for u, c, a in zip(uca["user_id"], uca["category"], uca["affinity"]) if u == user_id}
        brand_aff = {b: a for u, b, a in zip(uba["user_id"], uba["brand"], uba["affinity"]) if u == user_id}
        expected = (
            np.array([cat_aff[c] for c in cat_of])
            + np.array([brand_aff.get(b, 0.0) for b in brand_of])
            + quality
            - ps[user_id] * lrp
        )
        assert np.allclose(world.affinity(user_id - 1), expected)
        assert np.allclose(
            world.pair_affinity(np.full(world.n_products, user_id - 1), np.arange(world.n_products)),
            expected,
        )


def test_views_follow_popularity_times_exp_affinity_exactly(world: World) -> None:
    """The sampler draws views with probability popularity * exp(affinity), not an approximation."""
    rng = np.random.default_rng(7)
    state = new_state(world)
    for user in (0, 2024, 4999):
        n_sessions = 40_000
        rows = browse(world, state, np.full(n_sessions, user), np.full(n_sessions, to_us(END)), rng)
        views = rows.product[rows.event_type == VIEW]
        observed = np.bincount(views, minlength=world.n_products)
        p = world.products.popularity * np.exp(world.affinity(user))
        expected = len(views) * p / p.sum()
        ok = expected >= 5
        chi2 = ((observed[ok] - expected[ok]) ** 2 / expected[ok]).sum()
        dof = ok.sum() - 1
        # Chi-square / dof is 1 +- sqrt(2 / dof) (about 0.05) for an exact sampler.
        assert chi2 / dof < 1.25, (user, chi2 / dof)
        assert observed[~ok].sum() < 1.5 * expected[~ok].sum() + 50


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
