"""Price changes on the dashboard tests' simulated shop: marts.price_changes against the simulator's
true price history (truth.product_prices), and the Products page's price history section against the
marts, in Streamlit's AppTest (the browser test, tests/app/test_browser.py, draws it in Chromium).

The simulator changes prices at midnight UTC and every event carries the price of its moment, so a
change the events saw is a true change, dated on the first day the product had an event at its new
price; a true change is missed only when no event saw its price before the next one.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
import streamlit as st

from tests.app.test_pages import choose_range, dataframe_with, open_app

# A true change (product, first day at the new price, the price, the price before), from
# truth.product_prices: rows whose price differs from the product's previous row.
TRUE_CHANGES = """
    with history as (
        select product_id, (valid_from at time zone 'UTC')::date as day, price_cents,
               lag(price_cents) over (partition by product_id order by valid_from) as previous_cents
        from truth.product_prices
    )
    select product_id, day, price_cents, previous_cents from history
    where previous_cents is not null and previous_cents <> price_cents
"""


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    st.cache_data.clear()


def truth_price(history: dict[int, list[tuple]], product_id: int, day) -> int:
    """The true price in cents of the product on that day (its last history row from before it)."""
    return [cents for start, cents in history[product_id] if start <= day][-1]


def test_detected_changes_are_true_changes_and_most_true_changes_are_found(built_shop):
    history: dict[int, list[tuple]] = {}
    for product_id, day, cents in built_shop.rows(
        "select product_id, (valid_from at time zone 'UTC')::date, price_cents from truth.product_prices "
        "order by product_id, valid_from"
    ):
        history.setdefault(product_id, []).append((day, cents))
    first_day, last_day = built_shop.one("select min(activity_date), max(activity_date) from marts.product_daily_performance")
    true_changes = [row for row in built_shop.rows(TRUE_CHANGES) if first_day < row[1] <= last_day]
    detected = built_shop.rows(
        "select product_id, changed_on, previous_price_seen_on, previous_price, new_price from marts.price_changes"
    )
    assert len(true_changes) >= 50 and detected

    # No spurious change: each detected one has the true prices of its two days and a true change between.
    spurious = [
        change for change in detected
        if truth_price(history, change[0], change[1]) != round(change[4] * 100)
        or truth_price(history, change[0], change[2]) != round(change[3] * 100)
        or not any(product == change[0] and change[2] < day <= change[1] for product, day, _, _ in true_changes)
    ]
    assert spurious == []

    found = [
        change for change in true_changes
        if any(product == change[0] and seen < change[1] <= on for product, on, seen, _, _ in detected)
    ]
    on_the_day = [change for change in detected if (change[0], change[1]) in {(p, d) for p, d, _, _ in true_changes}]
    print(f"true changes {len(true_changes)}, detected {len(detected)}, found {len(found)}, "
          f"dated on the true day {len(on_the_day)}")
    assert len(found) >= 0.9 * len(true_changes)
    assert len(on_the_day) >= 0.8 * len(detected)


def test_each_change_counts_units_and_conversion_in_the_fortnights_around_it(built_shop):
    """The windows, recomputed from the daily mart: 14 days before, the change's day and 13 after."""
    changes = built_shop.rows(
        "select product_id, changed_on, units_before, units_after, sessions_before, sessions_after, "
        "purchasing_sessions_before, purchasing_sessions_after, conversion_after from marts.price_changes")
    daily = {}
    for product_id, day, units, sessions, purchasing in built_shop.rows(
        "select product_id, activity_date, units_sold, sessions, purchasing_sessions "
        "from marts.product_daily_performance"
    ):
        daily[(product_id, day)] = (units, sessions, purchasing)

    def window(product_id, first, days):
        rows = [daily.get((product_id, first + timedelta(days=offset)), (0, 0, 0)) for offset in range(days)]
        return tuple(sum(column) for column in zip(*rows))

    for product_id, changed_on, *figures, conversion_after in changes:
        before = window(product_id, changed_on - timedelta(days=14), 14)
        after = window(product_id, changed_on, 14)
        assert figures == [before[0], after[0], before[1], after[1], before[2], after[2]], (product_id, changed_on)
        # a share rounded half up to 4 places, as numeric(10, 4)
        assert conversion_after == (Decimal(after[2]) / after[1]).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    assert sum(row[3] for row in changes) > 0  # units after changes: the windows hold sales


def _values(array) -> list:
    """A trace's data array as a list: Plotly's JSON sends numeric arrays as typed base64 (bdata)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"])).tolist()
    return list(array)


def _plotly_figure(app, key: str) -> dict:
    """The figure of the page's Plotly chart with this key, as Plotly JSON."""
    charts = [element for element in app.get("plotly_chart") if key in element.proto.id]
    assert len(charts) == 1, [element.proto.id for element in app.get("plotly_chart")]
    return json.loads(charts[0].proto.spec)


def test_products_page_shows_a_products_price_history_next_to_its_units_and_each_changes_effect(
    built_shop, point_app_at
):
    point_app_at(built_shop)
    last_day = built_shop.one("select max(activity_date) from marts.product_daily_performance")[0]
    start = last_day - timedelta(days=29)
    # the product with the most changes in the period
    product_id, changes_in_period = built_shop.one(
        "select product_id, count(*) from marts.price_changes where changed_on between %s and %s "
        "group by product_id order by count(*) desc, product_id limit 1", (start, last_day))
    assert changes_in_period >= 2
    app = choose_range(open_app("views/products.py"), start, last_day)
    app.selectbox(key="product_pick").set_value(product_id).run()
    assert not app.exception and not app.error

    figure = _plotly_figure(app, "price_history")
    traces = {trace["name"]: trace for trace in figure["data"]}
    assert set(traces) == {"Units", "Price in events", "List price (catalogue snapshot)"}
    seen = built_shop.rows(
        "select activity_date, price, units_sold from marts.product_daily_performance "
        "where product_id = %s and activity_date between %s and %s order by activity_date",
        (product_id, start, last_day))
    prices = traces["Price in events"]
    assert [str(x)[:10] for x in _values(prices["x"])] == [day.isoformat() for day, _, _ in seen]
    assert _values(prices["y"]) == [float(price) for _, price, _ in seen]
    assert prices["line"]["shape"] == "hv"  # a step: the price holds until the next day seen
    units = traces["Units"]
    assert len(_values(units["x"])) == 30 and sum(_values(units["y"])) == sum(units for _, _, units in seen)
    # the snapshot's current version: the product's price in raw.products
    (list_price,) = built_shop.one("select price from raw.products where product_id = %s", (product_id,))
    assert float(list_price) in _values(traces["List price (catalogue snapshot)"]["y"])

    table = dataframe_with(app, "changed_on", "units_before", "conversion_after")
    expected = built_shop.rows(
        "select changed_on, previous_price, new_price, units_before, units_after, conversion_after "
        "from marts.price_changes where product_id = %s and changed_on between %s and %s order by changed_on",
        (product_id, start, last_day))
    assert len(table) == len(expected) == changes_in_period
    for shown, (changed_on, previous, new, units_before, units_after, conversion_after) in zip(
        table.itertuples(), expected
    ):
        assert (shown.changed_on, shown.previous_price, shown.new_price) == (changed_on, float(previous), float(new))
        assert (shown.units_before, shown.units_after) == (units_before, units_after)
        assert shown.conversion_after == pytest.approx(float(conversion_after) * 100)  # shown as a percentage


def test_products_page_without_the_snapshot_still_shows_the_price_in_events(built_shop, point_app_at, monkeypatch):
    """Plain `dbt run` builds no snapshot: the section then draws the events' prices alone."""
    from app import queries

    point_app_at(built_shop)
    monkeypatch.setattr(queries, "PRODUCTS_SNAPSHOT", "snapshots.no_such_snapshot")
    app = open_app("views/products.py")
    assert not app.exception and not app.error
    names = {trace["name"] for trace in _plotly_figure(app, "price_history")["data"]}
    assert names == {"Units", "Price in events"}
