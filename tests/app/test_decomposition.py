"""Why revenue moved: the split's arithmetic (app/decomposition.py), without a database."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app import formatting
from app.decomposition import (
    FACTORS,
    CannotSplit,
    PeriodFigures,
    category_changes,
    main_factor,
    split_revenue,
    summary,
)


def figures(revenue, orders, sessions, label="the period") -> PeriodFigures:
    return PeriodFigures(label, revenue, orders, sessions)


def test_the_parts_add_up_to_the_change_whatever_the_figures():
    rng = np.random.default_rng(3)
    for _ in range(500):
        sessions, orders = rng.integers(1, 10_000, 2)
        before = figures(float(rng.uniform(0, 1e6)), float(rng.integers(1, sessions + 1)), float(sessions))
        after = figures(float(rng.uniform(0, 1e6)), float(rng.integers(1, orders + 1)), float(orders))
        split = split_revenue(before, after)
        assert split.previous == pytest.approx(before.revenue, rel=1e-12)
        assert split.current == pytest.approx(after.revenue, rel=1e-12)
        assert sum(split.parts.values()) == pytest.approx(after.revenue - before.revenue, rel=1e-9, abs=1e-6)


def test_a_change_of_one_factor_is_all_that_factors():
    base = figures(1000.0, 10, 100)
    traffic = split_revenue(base, figures(2000.0, 20, 200))  # twice the sessions, same conversion and basket
    assert traffic.parts["sessions"] == pytest.approx(1000.0)
    assert traffic.parts["conversion"] == pytest.approx(0.0) and traffic.parts["order_value"] == pytest.approx(0.0)
    basket = split_revenue(base, figures(1500.0, 10, 100))
    assert basket.parts["order_value"] == pytest.approx(500.0) and main_factor(basket) == "order_value"
    conversion = split_revenue(base, figures(500.0, 5, 100))
    assert conversion.parts["conversion"] == pytest.approx(-500.0) and main_factor(conversion) == "conversion"


def test_shapley_shares_the_interaction_of_two_factors_equally():
    # Sessions and order value both double: revenue x4; the joint part (1,000) is shared half and half.
    split = split_revenue(figures(1000.0, 10, 100), figures(4000.0, 20, 200))
    assert split.parts["sessions"] == pytest.approx(1500.0)
    assert split.parts["order_value"] == pytest.approx(1500.0)
    assert split.parts["conversion"] == pytest.approx(0.0)


@pytest.mark.parametrize(("before", "after"), [
    (figures(1000.0, 10, 100), figures(0.0, 0, 120)),     # no order now
    (figures(None, 0, 80), figures(700.0, 7, 100)),        # no order before (revenue NULL: no rows)
    (figures(None, None, 80), figures(None, None, 90)),    # no order in either period
])
def test_a_period_without_orders_still_splits_and_adds_up(before, after):
    split = split_revenue(before, after)
    change = (after.revenue or 0.0) - (before.revenue or 0.0)
    assert sum(split.parts.values()) == pytest.approx(change, abs=1e-9)
    assert split.parts["order_value"] == pytest.approx(0.0)  # the missing basket takes the other period's
    if change:
        assert main_factor(split) in ("conversion", "sessions")
        assert all(math.isfinite(part) for part in split.parts.values())


@pytest.mark.parametrize("which", ["previous", "current"])
def test_a_period_without_sessions_cannot_be_split_and_says_so(which):
    empty = figures(None, None, None, label="01 Jan 2026 – 07 Jan 2026")
    full = figures(100.0, 2, 50)
    with pytest.raises(CannotSplit, match="01 Jan 2026 – 07 Jan 2026 has no sessions"):
        split_revenue(empty, full) if which == "previous" else split_revenue(full, empty)
    with pytest.raises(CannotSplit, match="no sessions"):
        split_revenue(full, figures(0.0, 0, 0))


def test_unknown_revenue_cannot_be_split():
    with pytest.raises(CannotSplit, match="revenue of the period is unknown"):
        split_revenue(figures(None, 4, 100), figures(100.0, 2, 50))


def test_category_changes_add_up_and_the_biggest_mover_comes_first():
    previous = {"books": 100.0, "toys": 50.0, "garden": 30.0}
    current = {"books": 110.0, "toys": 5.0, "kitchen": 20.0}
    changes = category_changes(previous, current)
    assert [item.category for item in changes] == ["toys", "garden", "kitchen", "books"]
    assert sum(item.change for item in changes) == pytest.approx(sum(current.values()) - sum(previous.values()))
    assert changes[1].current == 0.0 and changes[2].previous == 0.0


def test_the_sentence_names_the_direction_the_main_factor_and_the_category():
    split = split_revenue(figures(1000.0, 10, 100), figures(500.0, 5, 100))
    drivers = category_changes({"toys": 800.0, "books": 200.0}, {"toys": 280.0, "books": 220.0})
    text = summary(split, drivers, formatting.currency)
    assert text == ("Revenue fell by $500.00, mostly through conversion (orders per session) (-$500.00); "
                    "toys moved most (-$520.00).")
    assert summary(split_revenue(figures(10.0, 1, 5), figures(10.0, 1, 5)), [], formatting.currency) == (
        "Revenue did not change against the previous period.")
    assert set(split.parts) == set(FACTORS)
