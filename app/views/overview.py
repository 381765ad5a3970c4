"""Overview: the KPIs of the period against the previous one, kept live, and daily revenue and volume.

Cards and chart read the semantic layer's metrics (app/kpis.py, queries.period_totals and daily_sales);
"Why revenue moved" splits the change of revenue with app/decomposition.py over metric queries."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import streamlit as st

from app import charts, decomposition, filters, formatting, kpis, queries, ui

LIVE_REFRESH_S = 10


@st.fragment(run_every=LIVE_REFRESH_S)
def live_kpis(choice: filters.Filters) -> None:
    """KPI cards and the age of the newest event; reruns on its own without reloading the page."""
    with ui.guarded():
        current = queries.period_totals(choice.period, choice.category).iloc[0]
        previous = queries.period_totals(choice.period.previous(), choice.category).iloc[0]
        ui.kpi_row(kpis.compute(current, previous, choice.category, queries.metric_texts()))
        newest = queries.last_event().loc[0, "last_loaded_at"]
        ago = formatting.age(formatting.seconds_since(newest, datetime.now(timezone.utc)))
        compared = choice.period.previous().label()
        st.caption(
            f"Last event {ago} ago · compared with {compared} · refreshes every {LIVE_REFRESH_S} s"
            + ("" if choice.category is None else f" · cards count the orders holding {choice.category} products")
        )


def alert_badge(choice: filters.Filters) -> None:
    """A badge when an anomaly check's alert overlaps the period: its numbers may be wrong."""
    alerts = queries.alerts_overlapping(choice.period)
    if not alerts.empty:
        st.badge(f"{len(alerts)} data alert{'s' if len(alerts) != 1 else ''} in this period: see Data health",
                 icon=":material/warning:", color="orange")


def daily_chart(choice: filters.Filters) -> None:
    frame = queries.daily_sales(choice.period, choice.category)
    days = charts.fill_days(frame, choice.period.dates(), "activity_date")
    if choice.category is None:
        st.subheader("Daily revenue and orders")
        ui.chart(charts.revenue_and_volume(days, "orders", "Orders"), key="overview_daily")
    else:
        st.subheader(f"Daily revenue and units: {choice.category}")
        ui.chart(charts.revenue_and_volume(days, "units", "Units sold"), key="overview_daily")


# --- why revenue moved -------------------------------------------------------------------------

TOP_CATEGORIES = 5


def _split_figures(period, category: str | None) -> decomposition.PeriodFigures:
    row = queries.revenue_split_figures(period, category).iloc[0]
    return decomposition.PeriodFigures(period.label(), row.get("revenue"), row.get("orders"), row.get("sessions"))


def _category_revenue(previous_period, period) -> tuple[dict[str, float], dict[str, float]]:
    frame = queries.revenue_by_category(previous_period, period)
    return tuple(  # categories without orders in one of the periods are absent from it
        {category: value for category, value in zip(frame["category"], frame[column], strict=True) if pd.notna(value)}
        for column in ("revenue_0", "revenue_1")
    )


def why_revenue_moved(choice: filters.Filters) -> None:
    """The change of revenue against the previous period, split into traffic, conversion and order
    value, and (shop-wide) the categories that moved most."""
    st.subheader("Why revenue moved")
    previous_period = choice.period.previous()
    try:
        split = decomposition.split_revenue(_split_figures(previous_period, choice.category),
                                            _split_figures(choice.period, choice.category))
    except decomposition.CannotSplit as exc:
        ui.empty(str(exc))
        return
    drivers = [] if choice.category is not None else decomposition.category_changes(
        *_category_revenue(previous_period, choice.period))
    st.markdown(decomposition.summary(split, drivers, formatting.currency))
    parts = [(decomposition.FACTOR_LABELS[name], split.parts[name]) for name in decomposition.FACTORS]
    ui.chart(charts.revenue_waterfall(("Previous period", split.previous), parts, ("This period", split.current)),
             key="overview_why")
    if choice.category is not None:
        st.caption(f"Revenue and orders of the orders holding {choice.category} products; sessions are shop-wide.")
        return
    movers = pd.DataFrame(
        [(item.category, item.previous, item.current, item.change) for item in drivers[:TOP_CATEGORIES]],
        columns=["category", "previous", "current", "change"],
    )
    ui.table(movers, column_config={
        "category": "Category",
        "previous": ui.money_column("Previous period"),
        "current": ui.money_column("This period"),
        "change": ui.money_column("Change"),
    })


st.title("Overview")
with ui.guarded():
    first_day, last_day = queries.activity_span()
    choice = filters.sidebar(queries.categories(), (first_day, last_day))
    if last_day is None:
        ui.stop_with(ui.EMPTY_WAREHOUSE)
    live_kpis(choice)
    alert_badge(choice)
    if last_day < choice.period.start or first_day > choice.period.end:
        ui.empty(
            f"No activity in {choice.period.label()}: the warehouse holds "
            f"{first_day:%d %b %Y} – {last_day:%d %b %Y}. Pick another date range."
        )
    daily_chart(choice)
    why_revenue_moved(choice)
