"""SimulationParams: defaults, canonical form and validation messages."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from simulator.params import SimulationParams

END = datetime(2025, 12, 15, tzinfo=timezone.utc)


def test_defaults_describe_the_small_shop() -> None:
    p = SimulationParams(end=END)
    assert (p.users, p.products, p.days, p.seed) == (40000, 1000, 120, 42)
    assert p.start == END - timedelta(days=120)


def test_default_end_is_now_in_utc() -> None:
    before = datetime.now(timezone.utc)
    p = SimulationParams()
    assert p.end.tzinfo is not None and p.end.utcoffset() == timedelta(0)
    assert before <= p.end <= datetime.now(timezone.utc)


def test_end_is_normalised_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    p = SimulationParams(end=datetime(2025, 12, 15, 1, tzinfo=paris))
    assert p.end == END and p.end.tzinfo == timezone.utc


def test_params_are_frozen_and_serialisable() -> None:
    p = SimulationParams(end=END)
    with pytest.raises(AttributeError):
        p.users = 3  # type: ignore[misc]
    data = json.loads(json.dumps(p.to_json_dict()))
    assert data["users"] == 40000 and data["end"] == "2025-12-15T00:00:00+00:00"
    assert data["max_lateness"] == 3 * 86400.0
    assert p.replace(users=10).users == 10


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"users": 0}, "users"),
        ({"users": -5}, "users"),
        ({"users": 2.5}, "users"),
        ({"products": 0}, "products"),
        ({"days": 0}, "days"),
        ({"seed": -1}, "seed"),
        ({"max_order_lines": 0}, "max_order_lines"),
        ({"mean_activity": 0.0}, "mean_activity"),
        ({"mean_views_per_session": 0.5}, "mean_views_per_session"),
        ({"duplicate_rate": 1.5}, "duplicate_rate"),
        ({"late_rate": -0.1}, "late_rate"),
        ({"cart_bias": float("nan")}, "cart_bias"),
        ({"max_lateness": timedelta(minutes=5)}, "max_lateness"),
    ],
)
def test_bad_values_name_the_parameter(changes: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        SimulationParams(end=END, **changes)


def test_naive_end_is_rejected_with_a_hint() -> None:
    with pytest.raises(ValueError, match="end must be timezone-aware"):
        SimulationParams(end=datetime(2025, 12, 15))


def test_end_must_be_a_datetime() -> None:
    with pytest.raises(ValueError, match="end must be a datetime"):
        SimulationParams(end="2025-12-15")  # type: ignore[arg-type]
