"""Id maps, aggregation, event weighting, time decay and fold-in rows."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.matrix import Catalogue, Events, IdMap, WeightConfig, build_data, fold_in
from shopcore.timeunits import US_PER_DAY


def _events(rows: list[tuple[int, int, int, float]]) -> Events:
    """rows of (user_id, product_id, event_type, day)"""
    a = np.array(rows, dtype=np.float64)
    at = (a[:, 3] * US_PER_DAY).astype(np.int64)
    return Events(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].astype(np.int8),
                  np.ones(len(a), dtype=np.int32), at, at + 5)


def test_id_map_is_stable_and_reports_unknown_ids() -> None:
    m = IdMap.of(np.array([30, 10, 20, 10]))
    assert m.ids.tolist() == [10, 20, 30]
    assert m.index(np.array([20, 99, 10])).tolist() == [1, -1, 0]


def test_aggregate_counts_event_types_per_pair() -> None:
    ev = _events([(1, 5, 0, 1), (1, 5, 0, 2), (1, 5, 1, 2.5), (1, 5, 2, 3), (2, 5, 0, 4), (1, 6, 0, 5)])
    agg = ev.aggregate()
    assert list(zip(agg.user_id, agg.product_id)) == [(1, 5), (1, 6), (2, 5)]
    assert agg.views.tolist() == [2, 1, 1]
    assert agg.add_to_carts.tolist() == [1, 0, 0]
    assert agg.purchases.tolist() == [1, 0, 0]
    assert agg.first_us[0] == 1 * US_PER_DAY and agg.last_us[0] == 3 * US_PER_DAY
    assert agg.watermark_us == 5 * US_PER_DAY + 5


def test_weights_rank_purchase_over_cart_over_view() -> None:
    ev = _events([(1, 1, 0, 10), (1, 2, 1, 10), (1, 3, 2, 10)])
    data = build_data(ev.aggregate(), config=WeightConfig(view=1, add_to_cart=3, purchase=9, half_life_days=None))
    row = data.strength.toarray()[0]
    assert row.tolist() == [1.0, 3.0, 9.0]
    conf = data.confidence.toarray()[0]
    assert conf[0] < conf[1] < conf[2]
    assert data.purchases.toarray()[0].tolist() == [0, 0, 1]


def test_time_decay_halves_per_half_life() -> None:
    ev = _events([(1, 1, 0, 0), (1, 2, 0, 30), (2, 1, 0, 30)])
    data = build_data(ev.aggregate(), config=WeightConfig(half_life_days=30))
    assert data.strength[0, 0] == pytest.approx(0.5)  # 30 days older than the newest event
    assert data.strength[0, 1] == pytest.approx(1.0)


def test_catalogue_items_without_events_are_in_the_index() -> None:
    ev = _events([(1, 2, 0, 0)])
    cat = Catalogue(np.array([1, 2, 3]), np.array(["a", "b", "a"]))
    data = build_data(ev.aggregate(), cat)
    assert data.items.ids.tolist() == [1, 2, 3]
    assert data.category_names[data.item_category].tolist() == ["a", "b", "a"]


def test_fold_in_adds_fresh_events_to_the_stored_row() -> None:
    ev = _events([(1, 1, 0, 0), (1, 2, 2, 0)])
    data = build_data(ev.aggregate(), config=WeightConfig(half_life_days=None))
    rows = fold_in(data, 1, np.array([1, 3, 999]), np.array([1, 2, 0]))
    assert rows.folded and rows.index.tolist() == [0]
    # product 3 is unknown to this model (not in its catalogue), 999 too: ignored
    assert rows.strength.toarray()[0].tolist() == [1.0 + 4.0, 8.0]
    stranger = fold_in(data, 42, np.array([2]), np.array([0]))
    assert stranger.index.tolist() == [-1] and stranger.strength.toarray()[0].tolist() == [0.0, 1.0]
    # Raw view counts: only fresh views add to them (the cart of product 1 does not).
    assert data.views.toarray()[0].tolist() == [1.0, 0.0] and rows.views.toarray()[0].tolist() == [1.0, 0.0]
    assert stranger.views.toarray()[0].tolist() == [0.0, 1.0]
    # Raw cart counts: only fresh carts add to them (the stored purchase of product 2 is no cart).
    assert data.carts.toarray()[0].tolist() == [0.0, 0.0] and rows.carts.toarray()[0].tolist() == [1.0, 0.0]
    assert stranger.carts.toarray()[0].tolist() == [0.0, 0.0]


def test_aggregate_and_build_keep_purchase_timing() -> None:
    """Per pair: first/last purchase and the units of the last purchase; the matrices hold the
    days since the last purchase and the observed days per unit between purchases."""
    a = np.array([(1, 5, 0, 1.0, 1), (1, 5, 2, 2.0, 2), (1, 5, 0, 5.0, 1), (1, 5, 2, 12.0, 3),
                  (1, 5, 0, 15.0, 1), (2, 5, 2, 4.0, 1), (2, 6, 0, 20.0, 1)])
    at = (a[:, 3] * US_PER_DAY).astype(np.int64)
    ev = Events(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].astype(np.int8),
                a[:, 4].astype(np.int32), at, at + 5)
    agg = ev.aggregate()
    assert agg.first_purchase_us[0] == 2 * US_PER_DAY and agg.last_purchase_us[0] == 12 * US_PER_DAY
    assert agg.last_purchase_units[:2].tolist() == [3, 1]
    data = build_data(agg, config=WeightConfig())
    assert data.purchase_age.toarray()[0, 0] == pytest.approx(8.0)  # bought on day 12, newest event day 20
    assert data.gap_per_unit.toarray()[0, 0] == pytest.approx(5.0)  # 10 days for the first 2 units
    assert np.isnan(data.gap_per_unit[1, 0])  # bought once: no gap observed
    assert data.last_units.toarray()[0, 0] == 3.0


def test_fold_in_marks_a_fresh_purchase_as_just_bought() -> None:
    ev = _events([(1, 1, 2, 0), (1, 2, 0, 10), (2, 1, 0, 20)])
    data = build_data(ev.aggregate())
    rows = fold_in(data, 1, np.array([1, 2]), np.array([2, 2]))
    age, units, gap = rows.purchase_timing()
    assert rows.purchases.toarray()[0].tolist() == [2.0, 1.0]
    assert age.tolist() == pytest.approx([0.0, 0.0], abs=1e-5)
    assert gap[0] == pytest.approx(20.0)  # bought 20 days before the model's "now", and again now
    assert np.isnan(gap[1])
