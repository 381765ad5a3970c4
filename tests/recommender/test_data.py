"""Data access against a real PostgreSQL: the marts decode exactly; empty warehouses say what to do."""

from __future__ import annotations

import numpy as np
import pytest

from recommender import data
from shopcore.errors import ShopError
from tests.recommender.warehouse import create_marts, sorted_events

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_shop():
    from tests.recommender.planted import planted_shop

    return planted_shop(users=60, items=30, days=40, consumable_share=0.5, seed=5)


def test_events_and_pairs_round_trip(fresh_database, small_shop) -> None:
    with fresh_database.connect() as conn:
        create_marts(conn, small_shop.events, small_shop.catalogue)
        events = data.load_events(conn)
        pairs = data.load_interactions(conn)
        catalogue = data.load_catalogue(conn)
    a, b = sorted_events(events), sorted_events(small_shop.events)
    for name in ("user_id", "product_id", "event_type", "quantity", "occurred_us", "loaded_us"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    expected = small_shop.events.aggregate()
    order = np.lexsort((pairs.product_id, pairs.user_id))
    for name in ("user_id", "product_id", "views", "add_to_carts", "purchases", "units_purchased", "first_us", "last_us"):
        np.testing.assert_array_equal(getattr(pairs, name)[order], getattr(expected, name), err_msg=name)
    assert pairs.watermark_us == expected.watermark_us
    bought = expected.purchases > 0
    for name in ("first_purchase_us", "last_purchase_us", "last_purchase_units"):
        np.testing.assert_array_equal(getattr(pairs, name)[order][bought], getattr(expected, name)[bought], err_msg=name)
    np.testing.assert_array_equal(catalogue.product_id, small_shop.catalogue.product_id)
    assert catalogue.category.tolist() == small_shop.catalogue.category.tolist()


def test_missing_marts_tell_the_user_to_simulate_and_build(fresh_database) -> None:
    with fresh_database.connect() as conn:
        with pytest.raises(ShopError, match=r"shop simulate.*shop build"):
            data.load_interactions(conn)


def test_empty_marts_tell_the_user_to_simulate_and_build(fresh_database, small_shop) -> None:
    with fresh_database.connect() as conn:
        create_marts(conn, None, small_shop.catalogue)
        with pytest.raises(ShopError, match="is empty.*shop simulate"):
            data.load_interactions(conn)
        with pytest.raises(ShopError, match="is empty"):
            data.load_events(conn)


def test_no_truth_on_a_real_shop(fresh_database) -> None:
    with fresh_database.connect() as conn:
        assert data.truth_loader(conn) is None  # truth tables exist (migrations) but are empty
