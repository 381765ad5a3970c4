"""Plotly figures of the dashboard: one look (margins, fonts, number formats) for every chart.

Each builder takes a DataFrame from `queries` and returns a figure; none of them queries anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app import formatting

HEIGHT = 340
PRIMARY = "#4C78A8"
SECONDARY = "#F58518"
TERTIARY = "#54A24B"
PALETTE = [PRIMARY, SECONDARY, TERTIARY, "#E45756", "#72B7B2", "#EECA3B", "#B279A2", "#FF9DA6", "#9D755D", "#BAB0AC"]


def _style(fig: go.Figure, *, height: int = HEIGHT, legend: bool = True) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 8, "r": 8, "t": 36, "b": 8},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        showlegend=legend,
        hovermode="x unified",
        colorway=PALETTE,
    )
    return fig


def fill_days(frame: pd.DataFrame, days: Sequence[date], date_column: str) -> pd.DataFrame:
    """One row per day of the period: a day without activity is a zero, not a gap in the line."""
    filled = frame.set_index(date_column).reindex(list(days))
    filled.index.name = date_column
    numeric = filled.select_dtypes("number").columns
    filled[numeric] = filled[numeric].fillna(0)
    return filled.reset_index()


def _bars_with_a_right_axis(frame: pd.DataFrame, column: str, label: str, number_format: str) -> go.Figure:
    """A figure with a right-hand axis and the daily bars of `column` on the left one."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(
        x=frame["activity_date"],
        y=frame[column],
        name=label,
        marker_color=PRIMARY,
        hovertemplate=f"%{{y:{number_format}}}<extra>{label}</extra>",
    )
    return fig


def revenue_and_volume(
    frame: pd.DataFrame, volume_column: str, volume_label: str, *, height: int | None = None
) -> go.Figure:
    """Daily revenue (bars, left axis) with a volume (orders or units; line, right axis)."""
    fig = _bars_with_a_right_axis(frame, "revenue", "Revenue", formatting.PLOTLY_CURRENCY)
    fig.add_scatter(
        x=frame["activity_date"],
        y=frame[volume_column],
        name=volume_label,
        mode="lines+markers",
        line={"color": SECONDARY, "width": 2},
        hovertemplate=f"%{{y:{formatting.PLOTLY_COUNT}}}<extra>{volume_label}</extra>",
        secondary_y=True,
    )
    fig.update_yaxes(title_text="Revenue", tickformat=formatting.PLOTLY_CURRENCY_AXIS, secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title_text=volume_label, tickformat=",d", secondary_y=True, rangemode="tozero", showgrid=False)
    return _style(fig, height=height or HEIGHT)


def price_history_and_units(
    days: pd.DataFrame, prices: pd.DataFrame, list_prices: pd.DataFrame, first: date, last: date
) -> go.Figure:
    """A product's daily units (bars, left axis) next to its price (steps, right axis): the price its
    events carried (`prices`: a row per day that had one; between them the last seen price holds) and,
    where the catalogue snapshot has them, its list-price versions (`list_prices`: valid_from,
    valid_to or null while current, price), dashed."""
    fig = _bars_with_a_right_axis(days, "units_sold", "Units", formatting.PLOTLY_COUNT)
    fig.add_scatter(
        x=prices["activity_date"],
        y=prices["price"],
        name="Price in events",
        mode="lines+markers",
        line={"color": SECONDARY, "width": 2, "shape": "hv"},
        marker={"size": 4},
        hovertemplate=f"%{{y:{formatting.PLOTLY_CURRENCY}}}<extra>Price in events</extra>",
        secondary_y=True,
    )
    if not list_prices.empty:
        start = pd.Timestamp(first, tz="UTC")
        end = pd.Timestamp(last, tz="UTC") + pd.Timedelta(days=1)
        xs: list = []
        ys: list = []
        for version in list_prices.itertuples():
            valid_to = end if pd.isna(version.valid_to) else min(pd.Timestamp(version.valid_to), end)
            xs += [max(pd.Timestamp(version.valid_from), start), valid_to, None]
            ys += [version.price, version.price, None]
        fig.add_scatter(
            x=xs,
            y=ys,
            name="List price (catalogue snapshot)",
            mode="lines",
            line={"color": TERTIARY, "width": 2, "dash": "dash"},
            hovertemplate=f"%{{y:{formatting.PLOTLY_CURRENCY}}}<extra>List price</extra>",
            secondary_y=True,
        )
    # Whole units: a product that sells a few a day would otherwise get fractional ticks.
    few = days["units_sold"].max() < 6
    fig.update_yaxes(title_text="Units", tickformat=",d", secondary_y=False, rangemode="tozero", dtick=1 if few else None)
    # The price axis fits the prices (not from zero), so that a change of a few percent shows.
    fig.update_yaxes(title_text="Price", tickformat=formatting.PLOTLY_CURRENCY, secondary_y=True, showgrid=False, tickmode="auto", nticks=6)
    return _style(fig)


def funnel(views: float, add_to_carts: float, purchases: float) -> go.Figure:
    fig = go.Figure(
        go.Funnel(
            y=["Views", "Add to cart", "Purchase"],
            x=[views, add_to_carts, purchases],
            textinfo="value+percent initial",
            texttemplate="%{value:,d} (%{percentInitial:.1%})",
            marker={"color": [PRIMARY, SECONDARY, TERTIARY]},
        )
    )
    return _style(fig, height=280, legend=False)


def _percent_hover(axis: str, label: str) -> str:
    """Hover text of a rate trace: the value on `axis` as a percentage, the trace's label beside it."""
    return f"%{{{axis}:{formatting.PLOTLY_PERCENT}}}<extra>{label}</extra>"


def rates_by_day(frame: pd.DataFrame, rates: dict[str, str]) -> go.Figure:
    """Lines of rates (column -> label) per day, as percentages."""
    fig = go.Figure()
    for column, label in rates.items():
        fig.add_scatter(x=frame["activity_date"], y=frame[column], name=label, mode="lines",
                        hovertemplate=_percent_hover("y", label))
    fig.update_yaxes(tickformat=formatting.PLOTLY_PERCENT, rangemode="tozero")
    return _style(fig)


def rates_by_category(frame: pd.DataFrame, rates: dict[str, str]) -> go.Figure:
    fig = go.Figure()
    for column, label in rates.items():
        fig.add_bar(y=frame["category"], x=frame[column], name=label, orientation="h",
                    hovertemplate=_percent_hover("x", label))
    fig.update_xaxes(tickformat=formatting.PLOTLY_PERCENT)
    fig.update_layout(barmode="group", hovermode="y unified")
    return _style(fig, height=max(HEIGHT, 40 * len(frame)))


def top_products(frame: pd.DataFrame, value_column: str, label: str, money: bool) -> go.Figure:
    """Horizontal bars, largest on top."""
    ordered = frame.iloc[::-1]
    fmt = formatting.PLOTLY_CURRENCY if money else formatting.PLOTLY_COUNT
    fig = go.Figure(
        go.Bar(
            y=ordered["product_name"],
            x=ordered[value_column],
            orientation="h",
            marker_color=PRIMARY if money else SECONDARY,
            customdata=ordered[["category"]],
            hovertemplate=f"%{{y}} (%{{customdata[0]}})<br>{label}: %{{x:{fmt}}}<extra></extra>",
        )
    )
    fig.update_xaxes(tickformat=formatting.PLOTLY_CURRENCY_AXIS if money else ",d")
    fig.update_layout(hovermode="closest")
    return _style(fig, height=max(HEIGHT, 26 * len(frame)), legend=False)


def mix(frame: pd.DataFrame, title: str) -> go.Figure:
    """Share of revenue by segment (category or brand), as a donut."""
    fig = go.Figure(
        go.Pie(
            labels=frame["segment"],
            values=frame["revenue"],
            hole=0.5,
            sort=False,
            textinfo="label+percent",
            texttemplate="%{label}<br>%{percent:.1%}",
            hovertemplate=f"%{{label}}<br>%{{value:{formatting.PLOTLY_CURRENCY}}} (%{{percent:.1%}})<extra></extra>",
        )
    )
    fig.update_layout(title={"text": title, "font": {"size": 14}})
    return _style(fig, legend=False)


def cohort_heatmap(frame: pd.DataFrame, rate_column: str, max_months: int = 12) -> go.Figure:
    """Signup month (rows, newest at the bottom) x months since signup, coloured by the rate."""
    shown = frame[frame["months_since_signup"] <= max_months]
    grid = shown.pivot(index="cohort_month", columns="months_since_signup", values=rate_column).sort_index()
    sizes = shown.groupby("cohort_month")["cohort_size"].first().reindex(grid.index)
    labels = [f"{month:%b %Y} ({formatting.count(size)})" for month, size in zip(grid.index, sizes, strict=True)]
    text = grid.map(lambda value: "" if pd.isna(value) else formatting.percent(value))
    fig = go.Figure(
        go.Heatmap(
            z=grid.values,
            x=[f"M{int(month)}" for month in grid.columns],
            y=labels,
            text=text.values,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            colorbar={"tickformat": ".0%"},
            hovertemplate="%{y}, %{x}: %{z:.1%}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", title_text="Signup month (cohort size)")
    fig.update_xaxes(title_text="Months since signup", side="top")
    fig.update_layout(hovermode="closest")
    return _style(fig, height=max(HEIGHT, 30 * len(labels) + 80), legend=False)


def new_vs_returning(frame: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    fig.add_bar(x=frame["order_date"], y=frame["new_orders"], name="New customers", marker_color=TERTIARY,
                hovertemplate="%{y:,d}<extra>New</extra>")
    fig.add_bar(x=frame["order_date"], y=frame["returning_orders"], name="Returning customers",
                marker_color=PRIMARY, hovertemplate="%{y:,d}<extra>Returning</extra>")
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text="Orders", tickformat=",d")
    return _style(fig)


def segments(frame: pd.DataFrame) -> go.Figure:
    fig = go.Figure(
        go.Bar(
            x=frame["label"],
            y=frame["customers"],
            marker_color=PRIMARY,
            customdata=frame[["revenue_share"]],
            hovertemplate="%{x}: %{y:,d} customers<br>%{customdata[0]:.1%} of revenue<extra></extra>",
        )
    )
    fig.update_yaxes(title_text="Customers", tickformat=",d")
    fig.update_layout(hovermode="closest")
    return _style(fig, legend=False)


def revenue_waterfall(previous: tuple[str, float], parts: Sequence[tuple[str, float]],
                      current: tuple[str, float]) -> go.Figure:
    """Revenue of the previous period, each part of the change, and the current period's revenue."""
    labels = [previous[0], *(label for label, _ in parts), current[0]]
    values = [previous[1], *(value for _, value in parts), current[1]]
    fig = go.Figure(go.Waterfall(
        x=labels,
        y=values,
        measure=["absolute", *(["relative"] * len(parts)), "total"],
        texttemplate=f"%{{y:{formatting.PLOTLY_CURRENCY_AXIS}}}",
        textposition="outside",
        hovertemplate=f"%{{x}}: %{{y:{formatting.PLOTLY_CURRENCY}}}<extra></extra>",
        increasing={"marker": {"color": TERTIARY}},
        decreasing={"marker": {"color": "#E45756"}},
        totals={"marker": {"color": PRIMARY}},
        connector={"line": {"color": "#BAB0AC"}},
    ))
    fig.update_yaxes(tickformat=formatting.PLOTLY_CURRENCY_AXIS)
    return _style(fig, legend=False)
