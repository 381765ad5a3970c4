"""Date presets, previous periods and the KPI definitions, without Streamlit."""

from __future__ import annotations

from datetime import date

import pytest

from app import kpis, periods
from app.periods import Period


def test_presets_end_today_and_previous_period_has_the_same_length():
    today = date(2026, 3, 10)
    assert periods.from_preset("Today", today) == Period(today, today)
    seven = periods.from_preset("7 days", today)
    assert seven == Period(date(2026, 3, 4), today) and seven.days == 7
    assert seven.previous() == Period(date(2026, 2, 25), date(2026, 3, 3))
    assert periods.from_preset("90 days", today).days == 90
    assert periods.from_preset("Custom", today, (date(2026, 3, 5), date(2026, 3, 1))) == Period(
        date(2026, 3, 1), date(2026, 3, 5)
    )


def test_bad_presets_and_periods_are_refused():
    with pytest.raises(ValueError, match="unknown date preset"):
        periods.from_preset("Yesterday", date(2026, 1, 1))
    with pytest.raises(ValueError, match="needs a start and an end"):
        periods.from_preset("Custom", date(2026, 1, 1))
    with pytest.raises(ValueError, match="ends before it starts"):
        Period(date(2026, 1, 2), date(2026, 1, 1))


TEXTS = {
    "revenue": kpis.MetricText("Revenue", "Sum of quantity x unit price."),
    "orders": kpis.MetricText("Orders", ""),
    "customers": kpis.MetricText("Customers", ""),
    "average_order_value": kpis.MetricText("Average order value", ""),
    "conversion_rate": kpis.MetricText("Conversion", ""),
    "view_to_purchase_rate": kpis.MetricText("View-to-purchase", ""),
    "category_orders": kpis.MetricText("Category orders", ""),
    "category_customers": kpis.MetricText("Category customers", ""),
    "category_average_order_value": kpis.MetricText("Category average order value", ""),
}


def test_shop_kpis_and_their_changes():
    current = {"revenue": 1000.0, "orders": 20, "customers": 15, "average_order_value": 50.0,
               "conversion_rate": 0.05}
    previous = {"revenue": 800.0, "orders": 20, "customers": 10, "average_order_value": 40.0,
                "conversion_rate": 0.04}
    cards = {card.label: card for card in kpis.compute(current, previous, None, TEXTS)}
    assert cards["Revenue"].help == "Sum of quantity x unit price."
    assert [card.display for card in cards.values()] == ["$1,000.00", "20", "15", "$50.00", "5.0%"]
    assert cards["Revenue"].delta == "+25.0%"
    assert cards["Orders"].delta == "+0.0%"
    assert cards["Average order value"].delta == "+25.0%"
    assert cards["Conversion"].delta == "+1.0 pp"


def test_category_kpis_and_a_period_without_sales():
    # a period without rows: sums come back NULL from SQL, ratios undefined
    current = {"revenue": None, "category_orders": 0, "category_customers": 0,
               "category_average_order_value": None, "view_to_purchase_rate": None}
    cards = kpis.compute(current, current, "books", TEXTS)
    assert [card.label for card in cards] == [
        "Revenue", "Category orders", "Category customers", "Category average order value",
        "View-to-purchase",
    ]
    assert [card.display for card in cards] == ["$0.00", "0", "0", "—", "—"]
    assert all(card.delta is None for card in cards)


def test_category_kpis_count_orders_holding_the_category():
    current = {"revenue": 300.0, "category_orders": 4, "category_customers": 3,
               "category_average_order_value": 75.0, "view_to_purchase_rate": 0.05,
               "orders": 90}  # a shop-wide figure beside them is not a category card
    previous = {"revenue": 200.0, "category_orders": 5, "category_customers": 5,
                "category_average_order_value": 40.0, "view_to_purchase_rate": 0.05}
    cards = {card.label: card for card in kpis.compute(current, previous, "books", TEXTS)}
    assert "Orders" not in cards and cards["Category orders"].display == "4"
    aov = cards["Category average order value"]
    assert aov.display == "$75.00" and aov.delta == "+87.5%"
    assert cards["View-to-purchase"].display == "5.0%" and cards["View-to-purchase"].delta == "+0.0 pp"
    assert cards["Category customers"].delta == "-40.0%"
