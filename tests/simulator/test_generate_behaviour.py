"""Shopping behaviour of the default shop (40,000 accounts, 1,000 products, 120 days).

The history is generated once for the module; every test measures one property with numpy on
the delivered rows, de-duplicated on event_id the way staging does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pytest

from simulator.figures import Figures, measure
from simulator.generate import EventBatch, generate_history
from simulator.params import SimulationParams
from simulator.world import World, build_world

END = datetime(2025, 12, 15, tzinfo=timezone.utc)  # covers October and late November
US_PER_DAY = 86_400_000_000
VIEW, CART, PURCHASE = 0, 1, 2


@dataclass
class Shop:
    world: World
    batches: list[EventBatch]
    raw: EventBatch  # as delivered
    events: EventBatch  # one row per event_id
    kind: np.ndarray  # event type code of `events`


def _key(*byte_columns: np.ndarray) -> np.ndarray:
    """(n, k) byte arrays (e.g. uuids) glued into one comparable value per row."""
    glued = np.ascontiguousarray(np.concatenate(byte_columns, axis=1))
    return glued.view(f"V{glued.shape[1]}").ravel()


def _bytes(ints: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(ints.astype(">i8")).view(np.uint8).reshape(-1, 8)


@pytest.fixture(scope="module")
def shop() -> Shop:
    world = build_world(SimulationParams(end=END))
    batches = list(generate_history(world))
    raw = EventBatch.concat(batches)
    _, first = np.unique(_key(raw.event_id), return_index=True)
    events = raw.take(np.sort(first))
    return Shop(world, batches, raw, events, events.event_type_code())


def _session_starts(shop: Shop) -> np.ndarray:
    """Start instant (first event) of every session, as datetime64[us]."""
    e = shop.events
    sid = _key(e.session_id)
    order = np.lexsort((e.occurred_at, sid))
    s = sid[order]
    first = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    return e.occurred_at[order][first]


def _orders(shop: Shop) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user_id, occurred_at as int64, line count) per order."""
    e, p = shop.events, shop.kind == PURCHASE
    oid = _key(e.order_id[p])
    _, first, counts = np.unique(oid, return_index=True, return_counts=True)
    return e.user_id[p][first], e.occurred_at[p][first].astype(np.int64), counts


# ----------------------------------------------------------------------------- volume


def test_volume_is_in_the_planned_range(shop: Shop) -> None:
    assert 400_000 <= len(shop.raw) <= 800_000
    assert len(shop.batches) == 120  # one batch per day of the window


def test_each_daily_batch_holds_the_events_of_its_day(shop: Shop) -> None:
    start = np.datetime64(SimulationParams(end=END).start.replace(tzinfo=None), "us")
    for i, b in enumerate(shop.batches):
        day_start = start + np.timedelta64(i * US_PER_DAY, "us")
        assert b.occurred_at.min() >= day_start
        assert b.occurred_at.max() < day_start + np.timedelta64(US_PER_DAY, "us")
        assert np.all(np.diff(b.occurred_at.astype(np.int64)) >= 0)  # time order


# ----------------------------------------------------------------------------- funnel


def test_top_fifth_of_products_gets_65_to_85_percent_of_views(shop: Shop) -> None:
    views = shop.events.product_id[shop.kind == VIEW]
    per_product = np.sort(np.bincount(views, minlength=shop.world.n_products + 1)[1:])[::-1]
    share = per_product[: shop.world.n_products // 5].sum() / per_product.sum()
    assert 0.65 <= share <= 0.85, share


def test_add_to_cart_on_3_to_10_percent_of_views(shop: Shop) -> None:
    rate = np.sum(shop.kind == CART) / np.sum(shop.kind == VIEW)
    assert 0.03 <= rate <= 0.10, rate


def test_add_to_cart_is_likelier_for_higher_affinity(shop: Shop) -> None:
    e, w = shop.events, shop.world
    v, c = shop.kind == VIEW, shop.kind == CART
    view_aff = w.pair_affinity(e.user_id[v] - 1, e.product_id[v] - 1)
    cart_aff = w.pair_affinity(e.user_id[c] - 1, e.product_id[c] - 1)
    edges = np.quantile(view_aff, [0.25, 0.5, 0.75])
    views_per_bin = np.bincount(np.searchsorted(edges, view_aff), minlength=4)
    carts_per_bin = np.bincount(np.searchsorted(edges, cart_aff), minlength=4)
    rate = carts_per_bin / views_per_bin
    assert np.all(np.diff(rate) > 0), rate  # rises with every affinity quartile
    assert rate[3] > 2 * rate[0]


def test_25_to_60_percent_of_carted_items_are_bought(shop: Shop) -> None:
    ratio = np.sum(shop.kind == PURCHASE) / np.sum(shop.kind == CART)
    assert 0.25 <= ratio <= 0.60, ratio


def test_orders_hold_1_to_4_products_mean_1_2_to_1_8(shop: Shop) -> None:
    _, _, lines = _orders(shop)
    assert lines.min() >= 1 and lines.max() <= 4
    assert 1.2 <= lines.mean() <= 1.8, lines.mean()


def test_a_buying_session_makes_exactly_one_order_with_distinct_products(shop: Shop) -> None:
    e, p = shop.events, shop.kind == PURCHASE
    sid, oid = e.session_id[p], e.order_id[p]
    n_pairs = len(np.unique(_key(sid, oid)))
    assert n_pairs == len(np.unique(_key(sid))) == len(np.unique(_key(oid)))
    assert len(np.unique(_key(oid, _bytes(e.product_id[p])))) == p.sum()  # a product once per order
    # Every purchase was carted in the same session first.
    c = shop.kind == CART
    carted = _key(e.session_id[c], _bytes(e.product_id[c]))
    assert np.isin(_key(sid, _bytes(e.product_id[p])), carted).all()


def test_has_order_exactly_on_purchases(shop: Shop) -> None:
    raw = shop.raw
    bought = raw.event_type_code() == PURCHASE
    assert np.array_equal(raw.has_order, bought)
    assert not raw.order_id[~raw.has_order].any()
    assert raw.order_id[raw.has_order].any(axis=1).all()


def test_quantities(shop: Shop) -> None:
    e, w = shop.events, shop.world
    assert e.quantity.dtype == np.int32 and e.quantity.min() >= 1
    p = shop.kind == PURCHASE
    consumable = w.products.is_consumable[e.product_id[p] - 1]
    q = e.quantity[p]
    assert q[~consumable].max() == 1
    assert 0.1 < np.mean(q[consumable] > 1) < 0.5 and q[consumable].max() == 3
    assert np.all(e.quantity[shop.kind == VIEW] == 1)


def test_unit_price_is_the_price_of_the_moment(shop: Shop) -> None:
    raw, w = shop.raw, shop.world
    assert raw.unit_price_cents.dtype == np.int64
    occurred = raw.occurred_at.astype("datetime64[us]").view(np.int64)
    assert np.array_equal(raw.unit_price_cents, w.prices.price_at(raw.product_id - 1, occurred))
    assert raw.unit_price_cents.min() > 0
    # Prices moved: events of one product carry more than one price, and some a promotion's.
    moved = raw.unit_price_cents != w.products.base_price_cents[raw.product_id - 1]
    assert 0.2 < moved.mean() < 0.9
    promo = w.prices.promotion[w.prices.index_at(raw.product_id - 1, occurred)]
    assert 0.05 < promo.mean() < 0.4


def test_promotions_sell(shop: Shop) -> None:
    """A promoted product sells more per view than it does at its usual price."""
    e, w = shop.events, shop.world
    occurred = e.occurred_at.astype("datetime64[us]").view(np.int64)
    promo = w.prices.promotion[w.prices.index_at(e.product_id - 1, occurred)]
    view, cart = shop.kind == VIEW, shop.kind == CART
    rate_promo = (cart & promo).sum() / (view & promo).sum()
    rate_usual = (cart & ~promo).sum() / (view & ~promo).sum()
    assert rate_promo > 1.1 * rate_usual, (rate_promo, rate_usual)


# ----------------------------------------------------------------------------- repeat buying


def test_20_to_45_percent_of_buyers_buy_again_within_90_days(shop: Shop) -> None:
    user, at, _ = _orders(shop)
    order = np.lexsort((at, user))
    user, at = user[order], at[order]
    first = np.flatnonzero(np.concatenate(([True], user[1:] != user[:-1])))
    n_orders = np.diff(np.concatenate((first, [len(user)])))
    again = np.zeros(len(first), dtype=bool)
    multi = n_orders > 1
    again[multi] = at[first[multi] + 1] - at[first[multi]] <= 90 * US_PER_DAY
    share = again.mean()
    assert len(first) > 1000
    assert 0.20 <= share <= 0.45, share


def test_durables_are_never_rebought_by_the_same_user(shop: Shop) -> None:
    e, w = shop.events, shop.world
    p = shop.kind == PURCHASE
    durable = ~w.products.is_consumable[e.product_id[p] - 1]
    keys = e.user_id[p][durable] * 10_000 + e.product_id[p][durable]
    assert len(np.unique(keys)) == len(keys)


def test_consumables_are_rebought_on_their_cycle(shop: Shop) -> None:
    e, w = shop.events, shop.world
    p = np.flatnonzero((shop.kind == PURCHASE) & w.products.is_consumable[e.product_id - 1])
    keys = e.user_id[p] * 10_000 + e.product_id[p]
    order = np.lexsort((e.occurred_at[p], keys))
    k, t, q = keys[order], e.occurred_at[p][order].astype(np.int64), e.quantity[p][order]
    same = k[1:] == k[:-1]
    assert same.sum() > 300  # plenty of re-buys of the same product by the same user
    gap_days = (t[1:] - t[:-1])[same] / US_PER_DAY
    cycle = w.products.repurchase_days[e.product_id[p][order][1:][same] - 1] * q[:-1][same]
    ratio = gap_days / cycle
    assert 0.8 < np.median(ratio) < 1.25  # re-bought when it runs out, give or take


# ----------------------------------------------------------------------------- time


def test_weekends_differ_from_weekdays(shop: Shop) -> None:
    starts = _session_starts(shop)
    days, counts = np.unique(starts.astype("datetime64[D]"), return_counts=True)
    weekday = (days.astype(np.int64) + 3) % 7  # 0 = Monday
    calm = days < np.datetime64("2025-11-15")  # before the holiday season
    ratio = counts[calm & (weekday >= 5)].mean() / counts[calm & (weekday < 5)].mean()
    assert ratio > 1.1, ratio


def test_black_friday_week_beats_october(shop: Shop) -> None:
    starts = _session_starts(shop)
    days, counts = np.unique(starts.astype("datetime64[D]"), return_counts=True)
    peak = (days >= np.datetime64("2025-11-24")) & (days <= np.datetime64("2025-12-02"))
    october = (days >= np.datetime64("2025-10-01")) & (days <= np.datetime64("2025-10-31"))
    ratio = counts[peak].mean() / counts[october].mean()
    assert ratio > 1.6, ratio
    top3 = days[np.argsort(counts)[-3:]]
    assert np.datetime64("2025-11-28") in top3  # Black Friday is among the busiest days


def test_pre_christmas_bump(shop: Shop) -> None:
    starts = _session_starts(shop)
    days, counts = np.unique(starts.astype("datetime64[D]"), return_counts=True)
    bump = (days >= np.datetime64("2025-12-08")) & (days <= np.datetime64("2025-12-14"))
    before = (days >= np.datetime64("2025-11-03")) & (days <= np.datetime64("2025-11-16"))
    assert counts[bump].mean() > 1.1 * counts[before].mean()


def test_sessions_start_in_the_evening_more_than_at_night(shop: Shop) -> None:
    hours = _session_starts(shop).astype("datetime64[h]").astype(np.int64) % 24
    per_hour = np.bincount(hours, minlength=24)
    assert per_hour[19:23].mean() > 3 * per_hour[2:6].mean()
    assert per_hour.argmax() in range(18, 23) and per_hour.argmin() in range(1, 7)


def test_events_in_a_session_are_seconds_to_minutes_apart(shop: Shop) -> None:
    e = shop.events
    sid = _key(e.session_id)
    order = np.lexsort((e.occurred_at, sid))
    same = sid[order][1:] == sid[order][:-1]
    gaps_s = np.diff(e.occurred_at[order].astype(np.int64))[same] / 1e6
    assert 10 < np.median(gaps_s) < 120
    assert np.percentile(gaps_s, 99) < 30 * 60


def test_heavy_users_make_a_large_share_of_sessions(shop: Shop) -> None:
    e = shop.events
    sid = _key(e.session_id)
    _, first = np.unique(sid, return_index=True)
    per_user = np.sort(np.bincount(e.user_id[first]))[::-1]
    top_tenth = per_user[: len(per_user) // 10].sum() / per_user.sum()
    assert top_tenth > 0.3, top_tenth


def test_only_signed_up_users_act(shop: Shop) -> None:
    e, w = shop.events, shop.world
    signup = w.users.signup_at[e.user_id - 1]
    assert np.all(e.occurred_at >= signup)


# ----------------------------------------------------------------------------- delivery defects


def test_about_half_a_percent_duplicate_deliveries(shop: Shop) -> None:
    raw = shop.raw
    share = 1 - len(shop.events) / len(raw)
    assert 0.003 <= share <= 0.008, share
    key = _key(raw.event_id)
    order = np.argsort(key, kind="stable")
    dup = np.flatnonzero(key[order][1:] == key[order][:-1])
    a, b = order[dup], order[dup + 1]  # original, then the copy
    for col in ("session_id", "user_id", "product_id", "event_type", "quantity",
                "unit_price_cents", "order_id", "has_order", "occurred_at"):
        assert np.array_equal(getattr(raw, col)[a], getattr(raw, col)[b]), col
    assert np.all(raw.loaded_at[b] >= raw.loaded_at[a])


def test_about_one_percent_late_arrivals_and_seconds_otherwise(shop: Shop) -> None:
    raw = shop.raw
    lag_s = (raw.loaded_at - raw.occurred_at).astype(np.int64) / 1e6
    assert lag_s.min() >= 0
    late = lag_s > 3600
    assert 0.006 <= late.mean() <= 0.015, late.mean()
    assert np.median(lag_s[late]) > 2 * 3600  # hours to days
    assert 0.5 < np.median(lag_s[~late]) < 10  # a few seconds
    limit = np.datetime64(END.replace(tzinfo=None), "us") + np.timedelta64(3, "D")
    assert raw.loaded_at.max() <= limit


def test_a_few_event_types_are_spelled_sloppily(shop: Shop) -> None:
    raw = shop.raw
    canonical = np.isin(raw.event_type, ["view", "add_to_cart", "purchase"])
    assert 0.001 <= 1 - canonical.mean() <= 0.004
    cleaned = np.strings.lower(np.strings.strip(raw.event_type))
    assert set(np.unique(cleaned)) == {"view", "add_to_cart", "purchase"}
    assert len(np.unique(raw.event_type[~canonical])) >= 6


def test_recommendation_variant_is_null_in_history(shop: Shop) -> None:
    assert shop.raw.recommendation_variant.dtype == object
    assert all(v is None for v in shop.raw.recommendation_variant[:: 997])
    assert not any(v is not None for v in shop.raw.recommendation_variant)


# ----------------------------------------------------------------------------- visitor lifecycles


@pytest.fixture(scope="module")
def figures(shop: Shop) -> Figures:
    return measure(shop.world, shop.raw)


def test_most_visitors_come_once(figures: Figures) -> None:
    assert 0.45 <= figures.one_session_share <= 0.85, figures.one_session_share


def test_signup_cohorts_fade_month_by_month(figures: Figures) -> None:
    assert 0.10 <= figures.cohort_month1 <= 0.40, figures.cohort_month1
    assert 0.05 <= figures.cohort_month3 <= 0.25, figures.cohort_month3
    assert figures.cohort_month3 < figures.cohort_month1


def test_a_tenth_of_visitors_make_at_least_two_fifths_of_events(figures: Figures) -> None:
    assert figures.top_decile_event_share >= 0.40, figures.top_decile_event_share


def test_new_visitors_keep_arriving(shop: Shop) -> None:
    """Every account opened during the window visits when it is opened, all window long."""
    e, w = shop.events, shop.world
    start = np.datetime64(SimulationParams(end=END).start.replace(tzinfo=None), "us")
    signup = w.users.signup_at
    new = np.flatnonzero(signup >= start)
    first_visit = np.full(w.n_users, np.datetime64("NaT", "us"))
    order = np.argsort(e.occurred_at, kind="stable")
    users, first = np.unique(e.user_id[order], return_index=True)
    first_visit[users - 1] = e.occurred_at[order][first]
    lag = (first_visit[new] - signup[new]).astype(np.int64)
    assert np.mean((lag >= 0) & (lag <= 11 * 60 * 1_000_000)) > 0.99  # within minutes of signing up
    per_week = np.bincount(((signup[new] - start).astype(np.int64) // (7 * US_PER_DAY)).clip(0, 16))
    assert per_week[:17].min() > 0.3 * per_week[:17].mean()


def test_complements_are_bought_together(shop: Shop, figures: Figures) -> None:
    assert figures.complement_order_share > 0.2, figures.complement_order_share
