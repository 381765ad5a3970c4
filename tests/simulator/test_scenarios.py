"""Scenarios: each kind of shop shows the figures it is a preset for (small shops, 60 days)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from simulator.batch import EventBatch
from simulator.figures import Figures, measure
from simulator.generate import generate_history
from simulator.params import SimulationParams
from simulator.scenarios import SCENARIOS, scenario_params
from simulator.world import World, build_world

END = datetime(2025, 12, 15, tzinfo=timezone.utc)


def _small(scenario: str) -> SimulationParams:
    preset_users = scenario_params(scenario).get("users", SimulationParams.users)
    return SimulationParams.for_scenario(scenario, users=preset_users // 10, products=300, days=60, end=END)


@pytest.fixture(scope="module")
def shops() -> dict[str, tuple[World, Figures]]:
    out = {}
    for name in SCENARIOS:
        world = build_world(_small(name))
        out[name] = (world, measure(world, EventBatch.concat(list(generate_history(world)))))
    return out


def test_presets_are_parameters_and_explicit_values_win() -> None:
    p = SimulationParams.for_scenario("grocery", end=END, max_order_lines=7)
    assert p.scenario == "grocery" and p.rebuy_together and p.max_order_lines == 7
    assert SimulationParams(end=END).scenario == "general"
    with pytest.raises(ValueError, match="scenario must be one of general, grocery, fashion"):
        SimulationParams.for_scenario("bakery", end=END)
    with pytest.raises(ValueError, match="scenario must be one of"):
        SimulationParams(scenario="bakery", end=END)


def test_every_scenario_is_a_working_shop(shops) -> None:
    for name, (world, f) in shops.items():
        assert f.events > 5_000, name
        assert f.rebought_durable_pairs == 0, name
        assert 0.01 < f.cart_per_view < 0.6 and f.lines_per_order >= 1, name
        assert set(world.category_names) == {c.name for c in SCENARIOS[name].categories}


def test_grocery_rebuys_big_baskets(shops) -> None:
    world, f = shops["grocery"]
    general = shops["general"][1]
    assert world.products.is_consumable.all()
    assert f.lines_per_order > 4 and f.lines_per_order > 2.5 * general.lines_per_order
    assert 0.4 < f.reorder_share < 0.8  # Instacart: about 59 % of ordered items are re-orders
    assert f.reorder_share > 3 * general.reorder_share


def test_media_is_one_category_no_brands_one_price_nothing_bought_twice(shops) -> None:
    world, f = shops["media"]
    p = world.products
    assert world.n_categories == 1 and len(world.brand_names) == 1
    assert len(np.unique(p.price_cents)) == 1 and len(world.prices.product) == world.n_products
    assert f.reorder_share == 0 and not p.is_consumable.any()
    assert f.promotion_purchase_share == 0


def test_fashion_is_seasonal_and_taste_driven(shops) -> None:
    fashion, general = shops["fashion"], shops["general"]
    assert fashion[1].season_lift > 1.2 * general[1].season_lift
    assert fashion[0].params.taste_scale > general[0].params.taste_scale
    assert fashion[1].promotion_purchase_share > general[1].promotion_purchase_share


def test_electronics_is_expensive_considered_and_complemented(shops) -> None:
    electronics, general = shops["electronics"][1], shops["general"][1]
    assert electronics.mean_unit_price > 4 * general.mean_unit_price
    assert electronics.views_per_session > 1.3 * general.views_per_session
    assert electronics.orders_per_session < general.orders_per_session
    assert electronics.complement_order_share > 0.4
