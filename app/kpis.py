"""The KPI cards of the Overview: what each one measures, and its change against the previous period.

Pure functions over the one-row totals of `queries.period_totals`, so the figures can be checked
without Streamlit. Shop-wide cards follow the usual e-commerce definitions (revenue, orders,
customers, average order value, session conversion). With a category filter, revenue, orders,
customers and average order value count the orders holding the category's products
(marts.order_lines), and conversion becomes the category's view-to-purchase rate (sessions are not
per category).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from app import formatting

Totals = Mapping[str, float]


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if not denominator else numerator / denominator


@dataclass(frozen=True)
class KpiSpec:
    label: str
    measure: Callable[[Totals], float | None]
    fmt: Callable[[float | None], str]
    is_rate: bool = False  # rates change in percentage points, amounts in percent
    help: str = ""


SHOP_KPIS: tuple[KpiSpec, ...] = (
    KpiSpec("Revenue", lambda t: t["revenue"], formatting.currency, help="Sum of quantity × price of every purchase."),
    KpiSpec("Orders", lambda t: t["orders"], formatting.count, help="Checkouts (an order may hold several products)."),
    KpiSpec("Customers", lambda t: t["customers"], formatting.count, help="Distinct buyers in the period."),
    KpiSpec(
        "Average order value",
        lambda t: _ratio(t["revenue"], t["orders"]),
        formatting.currency,
        help="Revenue / orders.",
    ),
    KpiSpec(
        "Conversion",
        lambda t: _ratio(t["converting_sessions"], t["sessions"]),
        formatting.percent,
        is_rate=True,
        help="Sessions with a purchase / all sessions.",
    ),
)

CATEGORY_KPIS: tuple[KpiSpec, ...] = (
    KpiSpec(
        "Revenue",
        lambda t: t["revenue"],
        formatting.currency,
        help="Revenue of the category's products in the period's orders.",
    ),
    KpiSpec(
        "Orders",
        lambda t: t["orders"],
        formatting.count,
        help="Orders holding at least one of the category's products.",
    ),
    KpiSpec(
        "Customers",
        lambda t: t["customers"],
        formatting.count,
        help="Distinct buyers of the category's products in the period.",
    ),
    KpiSpec(
        "Average order value",
        lambda t: _ratio(t["revenue"], t["orders"]),
        formatting.currency,
        help="Category revenue / orders holding the category (what those orders spent on it).",
    ),
    KpiSpec(
        "View-to-purchase",
        lambda t: _ratio(t["order_lines"], t["views"]),
        formatting.percent,
        is_rate=True,
        help="Purchases / product views of the category.",
    ),
)


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


def compute(current: Totals, previous: Totals, category: str | None) -> list[Kpi]:
    cards = []
    for spec in kpi_specs(category):
        value, before = spec.measure(current), spec.measure(previous)
        delta = formatting.point_change(value, before) if spec.is_rate else formatting.change(value, before)
        cards.append(Kpi(spec.label, value, before, spec.fmt(value), delta, spec.help))
    return cards
