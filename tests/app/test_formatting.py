"""Number formats: currency with separators and cents, percentages with one decimal, changes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from app import formatting


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "$0.00"), (1234567.891, "$1,234,567.89"), (Decimal("12.5"), "$12.50"), (-3.2, "-$3.20"), (None, "—"),
     (float("nan"), "—")],
)
def test_currency(value, shown):
    assert formatting.currency(value) == shown


def test_counts_and_percentages():
    assert formatting.count(1234567) == "1,234,567"
    assert formatting.count(12.6) == "13"
    assert formatting.percent(0.03449) == "3.4%"
    assert formatting.percent(1) == "100.0%"
    assert formatting.percent(None) == "—"


def test_changes_are_relative_for_amounts_and_in_points_for_rates():
    assert formatting.change(110, 100) == "+10.0%"
    assert formatting.change(90, 100) == "-10.0%"
    assert formatting.change(5, 0) is None  # nothing to compare with
    assert formatting.point_change(0.034, 0.030) == "+0.4 pp"
    assert formatting.point_change(None, 0.03) is None


def test_age_uses_the_unit_that_reads_well():
    now = datetime(2026, 1, 2, tzinfo=timezone.utc)
    assert formatting.age(formatting.seconds_since(now - timedelta(seconds=42), now)) == "42 s"
    assert formatting.age(600) == "10 min"
    assert formatting.age(5 * 3600) == "5 h"
    assert formatting.age(3 * 86400) == "3 d"
    assert formatting.age(None) == "—"
    assert formatting.age(float("nan")) == "—"  # what a pandas column of ages holds for a missing one
