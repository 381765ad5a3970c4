"""Number formats shared by every page and chart, so a figure reads the same everywhere.

Currency has a symbol, thousands separators and cents; rates are percentages with one decimal;
counts are whole numbers with thousands separators. A missing value shows as an em dash; an
attribute the shop has not told (an imported shop's brand, country, name) shows as "unknown".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

CURRENCY_SYMBOL = "$"
MISSING = "—"
UNKNOWN = "unknown"

# Plotly's d3 formats for the same conventions (axes and hover labels).
PLOTLY_CURRENCY = f"{CURRENCY_SYMBOL},.2f"
PLOTLY_CURRENCY_AXIS = f"{CURRENCY_SYMBOL},.0f"
PLOTLY_PERCENT = ".1%"
PLOTLY_COUNT = ",d"

Number = int | float | Decimal


def _missing(value: object) -> bool:
    # NaN and pandas' NaT are the only values not equal to themselves.
    return value is None or value != value


def text(value: object) -> str:
    """An attribute as text; "unknown" when the shop has not told it (never "None")."""
    return UNKNOWN if _missing(value) or value == "" else str(value)


def currency(value: Number | None) -> str:
    """$12,345.67 (negative: -$12.50)."""
    if _missing(value):
        return MISSING
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    return f"{sign}{CURRENCY_SYMBOL}{abs(amount):,.2f}"


def count(value: Number | None) -> str:
    """12,345."""
    if _missing(value):
        return MISSING
    return f"{int(round(float(value))):,}"


def percent(ratio: Number | None) -> str:
    """A ratio (0.0342) as 3.4%."""
    if _missing(ratio):
        return MISSING
    return f"{float(ratio) * 100:.1f}%"


def change(current: Number | None, previous: Number | None) -> str | None:
    """Relative change as +12.3% / -4.0%; None when there is nothing to compare with."""
    if _missing(current) or _missing(previous) or float(previous) == 0:
        return None
    return f"{(float(current) - float(previous)) / abs(float(previous)) * 100:+.1f}%"


def signed_percent(ratio: Number | None) -> str:
    """A relative change (0.123) as +12.3%."""
    if _missing(ratio):
        return MISSING
    return f"{float(ratio) * 100:+.1f}%"


def point_change(current: Number | None, previous: Number | None) -> str | None:
    """Change of a rate in percentage points (+0.4 pp): a relative change of a rate misleads."""
    if _missing(current) or _missing(previous):
        return None
    return f"{(float(current) - float(previous)) * 100:+.1f} pp"


def age(seconds: float | None) -> str:
    """How long ago, in the largest unit that reads well: 42 s, 3 min, 5 h, 2 d."""
    if _missing(seconds):  # None, or NaN once a pandas column of ages holds a missing one
        return MISSING
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def seconds_since(moment: datetime | None, now: datetime) -> float | None:
    # pandas gives NaT (not None) for a NULL timestamp, e.g. the newest row of an empty table.
    return None if _missing(moment) else (now - moment) / timedelta(seconds=1)


def timestamp(moment: datetime | None) -> str:
    """2026-11-23 09:41 UTC."""
    if _missing(moment):
        return MISSING
    return moment.strftime("%Y-%m-%d %H:%M UTC")
