"""Fixtures of the recommender tests: planted shops (module-scoped: they are read-only)."""

from __future__ import annotations

import os

# implicit's models run their own threads; BLAS threads on top would only fight them (2 cores).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402

from tests.recommender.planted import PlantedShop, planted_shop  # noqa: E402


@pytest.fixture(scope="module")
def durables_shop() -> PlantedShop:
    return planted_shop(consumable_share=0.0, seed=1)


@pytest.fixture(scope="module")
def consumables_shop() -> PlantedShop:
    return planted_shop(consumable_share=0.9, seed=2)
