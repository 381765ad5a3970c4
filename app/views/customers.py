"""Customers: monthly cohort retention, new against returning buyers, and RFM segments."""

from __future__ import annotations

import streamlit as st

from app import charts, filters, formatting, queries, ui

# Segments from marts.customers, best first, with what each means (the mart's RFM rules).
SEGMENTS: dict[str, tuple[str, str]] = {
    "champion": ("Champions", "Bought recently and often."),
    "loyal": ("Loyal", "Buy regularly, fairly recently."),
    "promising": ("Promising", "Bought recently, not often yet."),
    "needs_attention": ("Needs attention", "Middling recency and frequency."),
    "at_risk": ("At risk", "Used to buy often, not recently."),
    "hibernating": ("Hibernating", "Bought rarely and long ago."),
    "prospect": ("Prospects", "Registered, no order yet."),
}

RETENTION_MEASURES = {
    "Active (any session)": "retention_rate",
    "Purchasing": "purchase_retention_rate",
}


def cohorts() -> None:
    st.subheader("Monthly cohort retention")
    frame = queries.cohort_retention()
    if frame.empty:
        ui.empty("No signup cohorts yet.")
        return
    measure = st.segmented_control("Retained means", list(RETENTION_MEASURES), default="Active (any session)", key="cohort_measure")
    column = RETENTION_MEASURES[measure or "Active (any session)"]
    st.caption("Share of each signup month's users active in each later month (all time; up to 12 months).")
    ui.chart(charts.cohort_heatmap(frame, column), key="cohort_heatmap")


def new_vs_returning(choice: filters.Filters) -> None:
    st.subheader("New vs returning")
    buyers = queries.new_vs_returning_customers(choice.period).iloc[0]
    by_day = queries.new_vs_returning_by_day(choice.period)
    cards = st.columns(4)
    cards[0].metric("New customers", formatting.count(buyers["new_customers"]), border=True,
                    help="Placed their first order in the period.")
    cards[1].metric("Returning customers", formatting.count(buyers["returning_customers"]), border=True,
                    help="Had ordered before the period, and ordered again in it.")
    cards[2].metric("Revenue from new", formatting.currency(by_day["new_revenue"].sum()), border=True)
    cards[3].metric("Revenue from returning", formatting.currency(by_day["returning_revenue"].sum()), border=True)
    if by_day.empty:
        ui.empty(f"No orders in {choice.period.label()}.")
        return
    ui.chart(charts.new_vs_returning(charts.fill_days(by_day, choice.period.dates(), "order_date")), key="new_returning")


def rfm() -> None:
    st.subheader("RFM segments")
    frame = queries.rfm_segments()
    if frame.empty:
        ui.empty("No customers yet.")
        return
    order = {name: rank for rank, name in enumerate(SEGMENTS)}
    frame = frame.assign(
        label=frame["rfm_segment"].map(lambda name: SEGMENTS.get(name, (name, ""))[0]),
        meaning=frame["rfm_segment"].map(lambda name: SEGMENTS.get(name, ("", ""))[1]),
        revenue_share=frame["revenue"] / frame["revenue"].sum() if frame["revenue"].sum() else 0.0,
        rank=frame["rfm_segment"].map(lambda name: order.get(name, len(order))),
    ).sort_values("rank")
    chart_column, table_column = st.columns([2, 3])
    with chart_column:
        ui.chart(charts.segments(frame), key="rfm_segments")
    with table_column:
        shown = ui.as_percent(frame, ["revenue_share"])[
            ["label", "meaning", "customers", "revenue", "revenue_share", "average_orders", "average_recency_days"]
        ]
        ui.table(
            shown,
            column_config={
                "label": "Segment",
                "meaning": "Who",
                "customers": ui.count_column("Customers"),
                "revenue": ui.money_column("Lifetime revenue"),
                "revenue_share": ui.percent_column("Share of revenue"),
                "average_orders": st.column_config.NumberColumn("Orders / customer", format="%.1f"),
                "average_recency_days": st.column_config.NumberColumn("Days since last order", format="%.0f"),
            },
        )


st.title("Customers")
with ui.guarded():
    choice = filters.sidebar(span=queries.activity_span())  # cohorts and segments are per customer: no category filter here
    cohorts()
    new_vs_returning(choice)
    rfm()
