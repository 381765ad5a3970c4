"""Funnel: views -> add to cart -> purchase, overall, by day and by category."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import charts, filters, formatting, queries, ui

RATES = {
    "view_to_cart": "View → cart",
    "cart_to_purchase": "Cart → purchase",
    "view_to_purchase": "View → purchase",
}


def with_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Step rates from the counts (a step without traffic has no rate, not a zero rate)."""
    out = frame.copy()
    views = out["views"].where(out["views"] > 0)
    carts = out["add_to_carts"].where(out["add_to_carts"] > 0)
    out["view_to_cart"] = out["add_to_carts"] / views
    out["cart_to_purchase"] = out["purchases"] / carts
    out["view_to_purchase"] = out["purchases"] / views
    return out


st.title("Funnel")
with ui.guarded():
    choice = filters.sidebar(queries.categories(), queries.activity_span())
    by_day = queries.funnel_by_day(choice.period, choice.category)
    if by_day.empty:
        ui.stop_with(f"No product views, carts or purchases in {choice.period.label()}. Pick another date range.")
    totals = with_rates(by_day[["views", "add_to_carts", "purchases"]].sum().to_frame().T).iloc[0]

    st.caption(f"Product events, {choice.describe()}.")
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Overall")
        ui.chart(charts.funnel(totals["views"], totals["add_to_carts"], totals["purchases"]), key="funnel_overall")
    with right:
        st.subheader("Step conversion")
        for column, label in RATES.items():
            st.metric(label, formatting.percent(totals[column]), border=True)

    st.subheader("By day")
    days = with_rates(charts.fill_days(by_day, choice.period.dates(), "activity_date"))
    ui.chart(charts.rates_by_day(days, RATES), key="funnel_by_day")

    st.subheader("By category")
    by_category = with_rates(queries.funnel_by_category(choice.period, choice.category))
    ui.chart(charts.rates_by_category(by_category, RATES), key="funnel_by_category")
    ui.table(
        ui.as_percent(by_category[["category", "views", "add_to_carts", "purchases", *RATES, "revenue"]], list(RATES)),
        column_config={
            "category": "Category",
            "views": ui.count_column("Views"),
            "add_to_carts": ui.count_column("Add to cart"),
            "purchases": ui.count_column("Purchases"),
            **{column: ui.percent_column(label) for column, label in RATES.items()},
            "revenue": ui.money_column("Revenue"),
        },
    )
