"""The KPI cards of the Overview: which metric each one shows, and its change against the previous period.

Each card is a metric of the dbt project's semantic layer (dbt_project/models/marts/_marts__metrics.yml):
its value comes from the metric's SQL (app/queries.py compiles it through MetricFlow), its label and
help from the metric's label and description, so a changed definition changes the card. Shop-wide
cards: revenue, orders, customers, average order value, session conversion. With a category filter,
its revenue, and the category_* metrics of the order lines: the orders holding its products, their
buyers and order value; conversion becomes the category's view-to-purchase rate (sessions are not
per category).
Pure functions over one row of metric values, so the figures can be checked without Streamlit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from app import formatting

Totals = Mapping[str, float | None]


@dataclass(frozen=True)
class KpiSpec:
    metric: str
    fmt: Callable[[float | None], str]
    is_rate: bool = False  # rates change in percentage points, amounts in percent
    zero_when_empty: bool = False  # a sum or count over no rows is 0; a ratio stays undefined


SHOP_KPIS: tuple[KpiSpec, ...] = (
    KpiSpec("revenue", formatting.currency, zero_when_empty=True),
    KpiSpec("orders", formatting.count, zero_when_empty=True),
    KpiSpec("customers", formatting.count, zero_when_empty=True),
    KpiSpec("average_order_value", formatting.currency),
    KpiSpec("conversion_rate", formatting.percent, is_rate=True),
)

# Orders and buyers of one category are the order lines' metrics: the shop-wide ones count orders,
# which hold no category.
CATEGORY_KPIS: tuple[KpiSpec, ...] = (
    SHOP_KPIS[0],  # revenue: the category funnel's, filtered
    KpiSpec("category_orders", formatting.count, zero_when_empty=True),
    KpiSpec("category_customers", formatting.count, zero_when_empty=True),
    KpiSpec("category_average_order_value", formatting.currency),
    KpiSpec("view_to_purchase_rate", formatting.percent, is_rate=True),
)


@dataclass(frozen=True)
class MetricText:
    """What the semantic layer says of a metric: the card's label and help."""

    label: str
    description: str


@dataclass(frozen=True)
class Kpi:
    label: str
    value: float | None
    previous: float | None
    display: str
    delta: str | None
    help: str


def kpi_specs(category: str | None) -> tuple[KpiSpec, ...]:
    return SHOP_KPIS if category is None else CATEGORY_KPIS


def metric_names(category: str | None) -> tuple[str, ...]:
    return tuple(spec.metric for spec in kpi_specs(category))


def _value(spec: KpiSpec, totals: Totals) -> float | None:
    value = totals.get(spec.metric)
    if value is None or value != value:  # None, or NaN from a NULL in a float column
        return 0.0 if spec.zero_when_empty else None
    return float(value)


def compute(current: Totals, previous: Totals, category: str | None,
            texts: Mapping[str, MetricText]) -> list[Kpi]:
    cards = []
    for spec in kpi_specs(category):
        value, before = _value(spec, current), _value(spec, previous)
        delta = formatting.point_change(value, before) if spec.is_rate else formatting.change(value, before)
        text = texts.get(spec.metric, MetricText(spec.metric, ""))
        cards.append(Kpi(text.label, value, before, spec.fmt(value), delta, text.description))
    return cards
