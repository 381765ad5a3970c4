"""Why revenue moved: a change between two periods split into traffic, conversion and order value,
and into the categories that drove it.

Revenue = sessions x (orders / sessions) x (revenue / orders). The change is split by the Shapley
value of the three factors: each factor's part is its effect averaged over every order in which the
factors could change, so the parts add up to the whole change by construction, and a factor that
falls to zero (a period without orders) is handled, which a log (LMDI) split cannot do. The figures
come from the semantic layer's metrics (app/queries.py); nothing here defines a KPI, it only does
the arithmetic of the analysis, so it can be checked without a database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import permutations

FACTORS = ("sessions", "conversion", "order_value")
FACTOR_LABELS = {"sessions": "Traffic (sessions)", "conversion": "Conversion (orders per session)",
                 "order_value": "Average order value"}


class CannotSplit(ValueError):
    """The change has no meaningful split (no sessions, unknown revenue): the message says why."""


@dataclass(frozen=True)
class PeriodFigures:
    """The metrics of one period the split needs; None when the metric has no value (no rows)."""

    label: str
    revenue: float | None
    orders: float | None
    sessions: float | None


@dataclass(frozen=True)
class RevenueSplit:
    previous: float
    current: float
    parts: dict[str, float]  # factor -> its share of the change, in currency; they add up to `change`

    @property
    def change(self) -> float:
        return self.current - self.previous


@dataclass(frozen=True)
class CategoryChange:
    category: str
    previous: float
    current: float

    @property
    def change(self) -> float:
        return self.current - self.previous


def _number(value: float | None) -> float:
    return 0.0 if value is None or value != value else float(value)


def _factors(figures: PeriodFigures) -> tuple[float, float, float | None]:
    """(sessions, orders per session, revenue per order); revenue per order is None without orders."""
    sessions, orders = _number(figures.sessions), _number(figures.orders)
    if sessions <= 0:
        raise CannotSplit(
            f"Cannot split the change: {figures.label} has no sessions, so conversion is undefined."
        )
    if orders > 0 and (figures.revenue is None or figures.revenue != figures.revenue):
        raise CannotSplit(f"Cannot split the change: the revenue of {figures.label} is unknown (no prices).")
    revenue = _number(figures.revenue)
    return sessions, orders / sessions, (revenue / orders if orders > 0 else None)


def split_revenue(previous: PeriodFigures, current: PeriodFigures) -> RevenueSplit:
    """The revenue change from `previous` to `current` as the Shapley parts of the three factors.

    A period without orders has no order value; it takes the other period's, so that its whole
    change is conversion's (nothing was ordered, whatever an order would have been worth).
    """
    before, after = list(_factors(previous)), list(_factors(current))
    if before[2] is None:
        before[2] = after[2]
    if after[2] is None:
        after[2] = before[2]
    if before[2] is None:  # no orders in either period: revenue is zero twice, nothing to split
        before[2] = after[2] = 0.0

    def revenue(changed: frozenset[int]) -> float:
        return math.prod(after[i] if i in changed else before[i] for i in range(len(FACTORS)))

    orders = list(permutations(range(len(FACTORS))))
    parts = [0.0] * len(FACTORS)
    for order in orders:
        changed: frozenset[int] = frozenset()
        for factor in order:
            parts[factor] += revenue(changed | {factor}) - revenue(changed)
            changed = changed | {factor}
    return RevenueSplit(
        previous=revenue(frozenset()),
        current=revenue(frozenset(range(len(FACTORS)))),
        parts={name: part / len(orders) for name, part in zip(FACTORS, parts, strict=True)},
    )


def category_changes(previous: Mapping[str, float | None], current: Mapping[str, float | None]) -> list[CategoryChange]:
    """Each category's revenue change (a category missing from a period had none there), biggest
    movers first; they add up to the change of the total because every order line has one category."""
    changes = [
        CategoryChange(name, _number(previous.get(name)), _number(current.get(name)))
        for name in set(previous) | set(current)
    ]
    return sorted(changes, key=lambda item: (-abs(item.change), item.category))


def main_factor(split: RevenueSplit) -> str:
    """The factor with the largest part, in either direction."""
    return max(FACTORS, key=lambda name: (abs(split.parts[name]), -FACTORS.index(name)))


def _signed(money, amount: float) -> str:
    return ("+" if amount > 0 else "") + money(amount)


def summary(split: RevenueSplit, drivers: list[CategoryChange], money) -> str:
    """One sentence for the page: how much revenue moved, mostly through what, and led by which category.

    `money` formats an amount (app.formatting.currency)."""
    if split.change == 0:
        return "Revenue did not change against the previous period."
    direction = "rose" if split.change > 0 else "fell"
    factor = main_factor(split)
    text = (f"Revenue {direction} by {money(abs(split.change))}, "
            f"mostly through {FACTOR_LABELS[factor].lower()} ({_signed(money, split.parts[factor])})")
    movers = [item for item in drivers if item.change != 0 and (item.change > 0) == (split.change > 0)]
    if movers:
        text += f"; {movers[0].category} moved most ({_signed(money, movers[0].change)})"
    return text + "."
