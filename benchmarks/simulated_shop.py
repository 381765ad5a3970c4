"""The recommender's inputs built in memory from the simulator, for tests and benchmarks.

Production reads the marts (``recommender.data``); this does in numpy what the warehouse does
for the recommender (de-duplicate on event_id, normalise event types), so that recommender
tests and benchmarks need no database and no dbt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from recommender.matrix import Catalogue, Events, IdMap
from simulator.batch import EventBatch
from simulator.generate import generate_history
from simulator.params import SimulationParams
from simulator.world import World, build_world


def events_from_batches(batches: Iterable[EventBatch]) -> Events:
    batch = EventBatch.concat(list(batches))
    # The first delivery of each event_id wins, like staging's de-duplication.
    _, first = np.unique(batch.event_id.view("V16").ravel(), return_index=True)
    batch = batch.take(np.sort(first))
    return Events(
        user_id=batch.user_id.astype(np.int64),
        product_id=batch.product_id.astype(np.int64),
        event_type=batch.event_type_code().astype(np.int8),
        quantity=batch.quantity.astype(np.int32),
        occurred_us=batch.occurred_at.astype("datetime64[us]").view(np.int64),
        loaded_us=batch.loaded_at.astype("datetime64[us]").view(np.int64),
    )


def catalogue_of(world: World) -> Catalogue:
    p = world.products
    return Catalogue(product_id=p.product_id.astype(np.int64), category=world.category_names[p.category],
                     brand=world.brand_names[p.brand], price=p.price_cents / 100.0)


@dataclass
class SimulatedShop:
    world: World
    events: Events
    catalogue: Catalogue

    def truth(self, user_ids: np.ndarray, items: IdMap) -> np.ndarray:
        """True affinity (users x items, item order of ``items``); NaN for unknown products."""
        out = np.full((len(user_ids), len(items)), np.nan, dtype=np.float32)
        col = items.index(self.world.products.product_id)
        ok = col >= 0
        for row, user_id in enumerate(np.asarray(user_ids, dtype=np.int64)):
            out[row, col[ok]] = self.world.affinity(int(user_id) - 1)[ok]
        return out


def simulate(params: SimulationParams) -> SimulatedShop:
    world = build_world(params)
    return SimulatedShop(world, events_from_batches(generate_history(world)), catalogue_of(world))
