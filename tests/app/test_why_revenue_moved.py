"""Why revenue moved, on a built shop with planted changes: the current fortnight's sessions doubled
(a view-only copy of each session) and the best-selling category's purchases removed from it, in
raw, before the warehouse is built. The Overview's split must put the traffic where it was planted,
the fall of conversion where it was planted, and name the category."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
import streamlit as st

from app import decomposition, formatting, queries
from app.periods import Period
from shop import dbt_runner
from tests.app.conftest import Shop
from tests.app.test_pages import choose_range, dataframe_with, open_app
from tests.support import create_database, drop_database, run_shop

pytestmark = pytest.mark.slow

# A fixed end: the same shop on every run.
SIZE = ("--users", "1500", "--products", "40", "--days", "30", "--seed", "5", "--end", "2026-06-30T00:00:00Z")
# Only what the Overview reads: sessions (sales_summary), revenue, also by category
# (daily_category_funnel), orders (orders), the category list (products).
MODELS = "+daily_category_funnel +orders +sales_summary +products metricflow_time_spine"
VIEW_SPELLINGS = ("view", "page_view", "pageview")
PURCHASE_SPELLINGS = ("purchase", "order")


@dataclass(frozen=True)
class Planted:
    shop: Shop
    current: Period
    category: str
    sessions_added: int  # (session, day) pairs: the sessions metric counts a session on each active day
    orders_removed: int  # orders left without a line
    revenue_removed: float

    def unplanted(self, figures: decomposition.PeriodFigures) -> decomposition.PeriodFigures:
        """The current period's figures as they were before the plant."""
        return decomposition.PeriodFigures(figures.label, figures.revenue + self.revenue_removed,
                                           figures.orders + self.orders_removed, figures.sessions - self.sessions_added)


PURCHASES_OF_THE_PERIOD = """
    from raw.interactions i join raw.products p using (product_id)
    where lower(trim(i.event_type)) = any(%(purchases)s)
      and (i.occurred_at at time zone 'UTC')::date between %(start)s and %(end)s
"""
REMOVED = "p.category = %(category)s"


@pytest.fixture(scope="module")
def planted(database, tmp_path_factory):
    shop_database = create_database(database, "shop_why")
    home = tmp_path_factory.mktemp("why-home")
    run_shop("simulate", *SIZE, env={**shop_database.env, "SHOP_HOME": str(home)})
    with shop_database.connect() as conn:
        (last_day,) = conn.execute(
            "select max((occurred_at at time zone 'UTC')::date) from raw.interactions").fetchone()
        current = Period(last_day - timedelta(days=13), last_day)
        window = {"start": current.start, "end": current.end, "views": list(VIEW_SPELLINGS),
                  "purchases": list(PURCHASE_SPELLINGS)}
        (category,) = conn.execute(
            f"select p.category {PURCHASES_OF_THE_PERIOD} group by p.category "
            "order by sum(i.quantity * i.unit_price) desc limit 1", window).fetchone()  # raw spelling
        window["category"] = category
        revenue_removed, orders_removed = conn.execute(
            f"""
            select sum(i.quantity * i.unit_price) filter (where {REMOVED}),
                   count(distinct i.order_id) - count(distinct i.order_id) filter (where not ({REMOVED}))
            {PURCHASES_OF_THE_PERIOD}
            """, window).fetchone()
        copied = """
            from raw.interactions
            where lower(trim(event_type)) = any(%(views)s)
              and (occurred_at at time zone 'UTC')::date between %(start)s and %(end)s
        """
        (sessions_added,) = conn.execute(
            f"select count(distinct (session_id, (occurred_at at time zone 'UTC')::date)) {copied}", window).fetchone()
        conn.execute(
            f"""
            insert into raw.interactions (event_id, session_id, user_id, product_id, event_type, quantity,
                                          unit_price, occurred_at, loaded_at)
            select gen_random_uuid(), md5('planted:' || session_id::text)::uuid, user_id, product_id, 'view', 1,
                   unit_price, occurred_at, loaded_at
            {copied}
            """, window)
        conn.execute(
            f"delete from raw.interactions i using raw.products p where i.product_id = p.product_id "
            f"and lower(trim(i.event_type)) = any(%(purchases)s) "
            f"and (i.occurred_at at time zone 'UTC')::date between %(start)s and %(end)s and {REMOVED}", window)
        conn.commit()
    result = dbt_runner.run_dbt(["run", "--select", *MODELS.split()], shop_database.info.env(), home=home)
    assert result.success, f"dbt run failed: {result.failing_names} {result.exception or ''}"
    # The warehouse's spelling of the category (staging lower-cases and trims it).
    yield Planted(Shop(shop_database, home), current, category.strip().lower(), sessions_added, orders_removed,
                  float(revenue_removed))
    drop_database(database, shop_database)


def test_the_split_puts_the_planted_changes_on_traffic_conversion_and_the_category(planted, point_app_at):
    shop, current = planted.shop, planted.current
    point_app_at(shop)
    st.cache_data.clear()

    def figures(period: Period) -> decomposition.PeriodFigures:
        row = queries.revenue_split_figures(period, None).iloc[0]
        return decomposition.PeriodFigures(period.label(), row["revenue"], row["orders"], row["sessions"])

    previous, now = figures(current.previous()), figures(current)
    split = decomposition.split_revenue(previous, now)
    (revenue_now,) = shop.one("select sum(revenue) from marts.orders where order_date between %s and %s",
                              (current.start, current.end))
    assert split.current == pytest.approx(float(revenue_now))
    assert sum(split.parts.values()) == pytest.approx(split.change, abs=1e-6)
    # Against the same comparison without the plant: the extra sessions are traffic, the sessions
    # that bought nothing and the orders removed are conversion (orders that kept other lines lost
    # value: order value moves too), and the parts' change is the revenue removed.
    before = decomposition.split_revenue(previous, planted.unplanted(now))
    shift = {name: split.parts[name] - before.parts[name] for name in decomposition.FACTORS}
    assert sum(shift.values()) == pytest.approx(-planted.revenue_removed, abs=1e-6)
    assert shift["sessions"] > 0.3 * previous.revenue
    assert shift["conversion"] < -shift["sessions"]

    previous_period = current.previous()
    by_category = {
        period: dict(zip(frame["category"], frame["revenue"], strict=True))
        for period, frame in ((previous_period, queries.revenue_by_category(previous_period)),
                              (current, queries.revenue_by_category(current)))
    }
    both = queries.revenue_by_category(previous_period, current)  # one query, as the Overview asks
    for column, period in (("revenue_0", previous_period), ("revenue_1", current)):
        assert {name: value for name, value in zip(both["category"], both[column], strict=True)
                if value == value} == pytest.approx(by_category[period])  # noqa: PLR0124 - NaN: no orders
    drivers = decomposition.category_changes(by_category[previous_period], by_category[current])
    assert drivers[0].category == planted.category and drivers[0].change < 0
    assert sum(item.change for item in drivers) == pytest.approx(split.change)

    # The Overview shows it: the sentence and the categories that moved most, the planted one first.
    app = open_app()
    assert not app.exception, [item.value for item in app.exception]
    app = choose_range(app, current.start, current.end)
    assert not app.exception, [item.value for item in app.exception]
    assert any(item.value == "Why revenue moved" for item in app.subheader)
    shown = [item.value for item in app.markdown if item.value.startswith("Revenue ")]
    assert shown == [decomposition.summary(split, drivers, formatting.currency)]
    movers = dataframe_with(app, "category", "previous", "current", "change")
    assert movers["category"].iloc[0] == planted.category
