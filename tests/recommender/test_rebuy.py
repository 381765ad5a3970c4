"""Re-buys: a consumables shop rewards recommending bought items, a durables shop does not;
the default model learns which from the data."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.algorithms import COLLABORATIVE
from recommender.algorithms.hybrid import rebuy_propensity
from recommender.matrix import WeightConfig, build_data
from recommender.pipeline import run_evaluation


@pytest.fixture(scope="module")
def consumables_report(consumables_shop):
    return run_evaluation(consumables_shop.events, consumables_shop.catalogue)


@pytest.fixture(scope="module")
def durables_report(durables_shop):
    return run_evaluation(durables_shop.events, durables_shop.catalogue)


def test_propensity_is_learned_per_item(consumables_shop) -> None:
    shop = consumables_shop
    data = build_data(shop.events.aggregate(), shop.catalogue, WeightConfig())
    p = rebuy_propensity(data, prior_strength=10.0)
    consumable = shop.consumable[data.items.ids - 1]
    assert p[consumable].mean() > 0.4
    assert p[~consumable].mean() < p[consumable].mean() / 2


def test_consumables_shop_hybrid_beats_buy_again_and_cf(consumables_report) -> None:
    r = {x.algorithm: x.test.ndcg for x in consumables_report.results}
    assert r["buy_again"] > max(r[c] for c in COLLABORATIVE)  # re-buys dominate this shop
    assert r["hybrid"] > r["buy_again"]
    params = consumables_report.result("hybrid").params
    assert params["rebuy_weight"] > 0 or params["due_weight"] > 0


def test_durables_shop_hybrid_keeps_up_with_cf(durables_report) -> None:
    r = {x.algorithm: x.test.ndcg for x in durables_report.results}
    assert r["buy_again"] < 0.8 * max(r[c] for c in COLLABORATIVE)  # re-buying is wrong here
    assert r["hybrid"] >= 0.95 * max(r[c] for c in COLLABORATIVE)
    assert r["hybrid"] > 1.3 * r["buy_again"]


def test_default_ranker_learns_rebuys_on_consumables_and_not_on_durables(consumables_report, durables_report) -> None:
    """The default model beats buy-again where re-buys dominate and keeps up with CF where
    nobody re-buys; its learned mix gives re-buys far more weight on the consumables shop."""
    from recommender.algorithms import DEFAULT

    assert DEFAULT == "ranker"
    c = {x.algorithm: x.test.ndcg for x in consumables_report.results}
    d = {x.algorithm: x.test.ndcg for x in durables_report.results}
    assert c["ranker"] > c["buy_again"]
    assert d["ranker"] >= 0.95 * max(d[name] for name in COLLABORATIVE)
    assert d["ranker"] > 1.3 * d["buy_again"]


def test_durables_hybrid_does_not_push_bought_items(durables_shop, durables_report) -> None:
    """Nobody re-buys a durable: the learned propensity is ~0, so the hybrid puts no more bought
    items in its lists than its collaborative base does (far fewer than buy-again)."""
    from recommender.algorithms import make

    data = build_data(durables_shop.events.aggregate(), durables_shop.catalogue, WeightConfig())
    params = durables_report.result("hybrid").params
    model = make("hybrid", **params).fit(data)
    assert model.propensity.max() < 0.05
    buyers = np.flatnonzero(np.diff(data.purchases.indptr) > 0)[:100]
    rows = data.rows(buyers)
    bought = rows.purchases.toarray() > 0

    def bought_share(scores: np.ndarray) -> float:
        return float(np.take_along_axis(bought, np.argsort(-scores, axis=1)[:, :10], axis=1).mean())

    base_share = bought_share(model.base.score(rows))
    buy_again_share = bought_share(make("buy_again").fit(data).score(rows))
    assert bought_share(model.score(rows)) <= base_share + 0.02
    assert bought_share(model.score(rows)) < buy_again_share


# --------------------------------------------------------------------------- re-buy timing

REFERENCE_DAY = 100.0


def _timing_data():
    """Item 1 is a consumable lasting 30 days a unit: 40 regular buyers re-buy it on days 0, 30,
    60 and 90. Item 2 is a durable everyone bought once, on day 5. Then five test users:
    101 bought one unit 28 days ago (due now), 102 two days ago (not due), 103 a hundred days
    ago (long overdue: probably stopped buying it), 104 three units 28 days ago (lasts 90 days)."""
    from recommender.matrix import Events
    from shopcore.timeunits import US_PER_DAY

    rows = []
    for u in range(1, 41):
        rows += [(u, 1, 2, d, 1) for d in (0.0 + u * 0.01, 30.0 + u * 0.02, 60.0 - u * 0.02, 90.0 + u * 0.01)]
        rows.append((u, 2, 2, 5.0, 1))
    rows += [(101, 1, 2, 72.0, 1), (102, 1, 2, 98.0, 1), (103, 1, 2, 0.0, 1), (104, 1, 2, 72.0, 3)]
    rows += [(105, 2, 0, REFERENCE_DAY, 1)]  # the newest event: "now" is day 100
    a = np.array(rows, dtype=np.float64)
    at = (a[:, 3] * US_PER_DAY).astype(np.int64)
    events = Events(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].astype(np.int8),
                    a[:, 4].astype(np.int32), at, at + 1)
    return build_data(events.aggregate(), config=WeightConfig())


def test_rebuy_timing_learns_cycle_and_conversion_per_item() -> None:
    from recommender.algorithms.hybrid import RebuyTiming

    data = _timing_data()
    timing = RebuyTiming.fit(data)
    consumable, durable = data.items.index(np.array([1, 2]))
    assert np.exp(timing.log_cycle[consumable]) == pytest.approx(30.0, rel=0.1)
    assert timing.conversion[consumable] > 0.7  # 3 re-buys per buyer, and recent last purchases
    # Bought once by everyone, 95 days ago (three cycles of the shop's pace): shrunk towards the
    # shop's rate (no categories here), yet far below the consumable.
    assert timing.conversion[durable] < min(0.15, timing.conversion[consumable] / 5)


def test_due_scores_purchases_by_where_they_are_in_their_cycle() -> None:
    from recommender.algorithms.hybrid import RebuyTiming

    data = _timing_data()
    timing = RebuyTiming.fit(data)
    users = data.users.index(np.array([101, 102, 103, 104]))
    rows = data.rows(users)
    due = timing.due(rows, horizon_days=14.0)
    coo = rows.purchases.tocoo()
    item1 = coo.col == data.items.index(1)[0]
    per_user = dict(zip(users[coo.row[item1]].tolist(), due[item1].tolist()))
    due_now, just_bought, overdue, stocked_up = (per_user[u] for u in users.tolist())
    assert due_now > 0.5
    assert just_bought < due_now / 20
    assert overdue < due_now / 3  # a cycle long past without a re-buy: likely stopped
    assert stocked_up < due_now / 20  # three units last three cycles
    # The durable everyone bought is never due.
    regular = data.rows(data.users.index(np.array([1])))
    regular_due = timing.due(regular, 14.0)
    assert regular_due[regular.purchases.tocoo().col == data.items.index(2)[0]][0] < 0.01


def test_hybrid_puts_a_due_rebuy_first_and_a_fresh_one_back() -> None:
    """Through the model: a due consumable tops the list; bought again just now (fold-in, no
    retraining), it loses its re-buy boost."""
    from recommender.algorithms import make
    from recommender.matrix import fold_in

    data = _timing_data()
    model = make("hybrid", base="user_knn", rebuy_weight=0.0, keep_cf=1.0, due_weight=16.0).fit(data)
    user, item = 101, int(data.items.index(1)[0])
    scores = model.score(data.rows(data.users.index(np.array([user]))))[0]
    assert int(np.argmax(scores)) == item
    fresh = model.score(fold_in(data, user, np.array([1]), np.array([2])))[0]
    assert fresh[item] < scores[item] / 3


def test_due_timing_adds_to_the_hybrid_on_a_consumables_shop(consumables_shop, consumables_report) -> None:
    """The tuned hybrid uses the timing, and without it (due_weight 0, all else equal) it does worse."""
    from recommender.evaluation import evaluate, split_points, temporal_split
    from recommender.matrix import IdMap

    shop = consumables_shop
    params = consumables_report.result("hybrid").params
    assert params["due_weight"] > 0
    pts = split_points(shop.events, test_days=14, validation_days=14)
    items = IdMap.of(shop.catalogue.product_id, shop.events.product_id)
    test = temporal_split("test", shop.events, shop.catalogue, WeightConfig(), pts.test_cutoff_us, pts.end_us, items)
    from recommender.algorithms import make

    with_timing = evaluate(test, make("hybrid", **params).fit(test.data).score).ndcg
    without = evaluate(test, make("hybrid", **{**params, "due_weight": 0.0}).fit(test.data).score).ndcg
    assert with_timing > without


def test_the_order_clock_expects_an_orders_lines_back_together() -> None:
    """Item 3 lasts 10 days a unit, item 1 30 days. User 106 bought both in one order 18 days ago:
    by each item's own clock item 3 is long overdue and item 1 due; by the order's clock (the lines'
    mean, 20 days) both are due. A one-line order reads the same on either clock."""
    from recommender.algorithms.hybrid import RebuyTiming
    from recommender.matrix import Events
    from shopcore.timeunits import US_PER_DAY

    rows = []
    for u in range(1, 41):
        rows += [(u, 1, 2, d + u * 0.01, 1) for d in (0.0, 30.0, 60.0, 90.0)]
        rows += [(200 + u, 3, 2, d + u * 0.01, 1) for d in (50.0, 60.0, 70.0, 80.0, 90.0)]
    rows += [(106, 1, 2, 82.0, 1), (106, 3, 2, 82.0, 1), (101, 1, 2, 72.0, 1), (105, 2, 0, REFERENCE_DAY, 1)]
    a = np.array(rows, dtype=np.float64)
    at = (a[:, 3] * US_PER_DAY).astype(np.int64)
    data = build_data(Events(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].astype(np.int8),
                             a[:, 4].astype(np.int32), at, at + 1).aggregate(), config=WeightConfig())
    timing = RebuyTiming.fit(data)
    assert np.exp(timing.log_cycle[data.items.index(np.array([1, 3]))]) == pytest.approx([30.0, 10.0], rel=0.1)
    rows_ = data.rows(data.users.index(np.array([106, 101])))
    coo = rows_.purchases.tocoo()
    own, order = timing.due(rows_, horizon_days=14.0), timing.due(rows_, horizon_days=14.0, per_order=True)
    at = {(int(r), int(data.items.ids[c])): i for i, (r, c) in enumerate(zip(coo.row, coo.col))}
    basket_1, basket_3, alone = at[(0, 1)], at[(0, 3)], at[(1, 1)]
    assert own[basket_3] < own[basket_1] / 3  # overdue by its own clock
    assert order[basket_3] > 3 * own[basket_3]
    assert order[basket_3] == pytest.approx(order[basket_1], rel=0.05)  # one clock for the order
    assert order[alone] == pytest.approx(own[alone])
