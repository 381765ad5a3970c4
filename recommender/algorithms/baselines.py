"""The baselines every evaluation shows: popularity and buy-again (plus random, the floor)."""

from __future__ import annotations

import numpy as np

from recommender.algorithms.base import Algorithm
from recommender.matrix import UserItemData, UserRows


class Popularity(Algorithm):
    """Everyone gets the items with the most (weighted, recent) interest."""

    name = "popularity"
    defaults: dict = {}

    def _fit(self, data: UserItemData) -> None:
        self.item_scores = np.asarray(data.confidence.sum(axis=0)).ravel().astype(np.float32)

    def score(self, rows: UserRows) -> np.ndarray:
        return np.broadcast_to(self.item_scores, (len(rows), len(self.item_scores))).copy()

    def state(self) -> dict[str, np.ndarray]:
        return {"item_scores": self.item_scores}

    def load_state(self, data: UserItemData, state: dict[str, np.ndarray]) -> None:
        super().load_state(data, state)
        self.item_scores = state["item_scores"]


class BuyAgain(Algorithm):
    """A user's own past purchases, most often and most recently bought first; popular items
    fill the rest of the list (so that it is a fair k-long ranking)."""

    name = "buy_again"
    defaults: dict = {}

    def _fit(self, data: UserItemData) -> None:
        pop = np.asarray(data.confidence.sum(axis=0)).ravel()
        # Popularity in [0, 1): always below any bought item, which scores >= 1.
        self.fill = (pop / (pop.max() + 1.0) if len(pop) else pop).astype(np.float32)

    def score(self, rows: UserRows) -> np.ndarray:
        out = np.broadcast_to(self.fill, (len(rows), len(self.fill))).copy()
        bought = rows.purchases.tocoo()
        recency = rows.recency.tocoo()  # same sparsity as purchases
        # Frequency first; recency in (0, 1] breaks ties between equally frequent items.
        out[bought.row, bought.col] = 1.0 + bought.data + recency.data * 0.5
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {"fill": self.fill}

    def load_state(self, data: UserItemData, state: dict[str, np.ndarray]) -> None:
        super().load_state(data, state)
        self.fill = state["fill"]


class RandomScores(Algorithm):
    """Random ranking, seeded: the floor any model must beat."""

    name = "random"
    defaults = {"seed": 0}

    def _fit(self, data: UserItemData) -> None:
        self.n_items = data.n_items

    def score(self, rows: UserRows) -> np.ndarray:
        # Seeded by the batch's first user too, so that batches do not repeat one pattern.
        first = int(rows.index[0]) if len(rows) else 0
        rng = np.random.default_rng([self.params["seed"], first + 1])
        return rng.random((len(rows), self.n_items), dtype=np.float32)

    def load_state(self, data: UserItemData, state: dict[str, np.ndarray]) -> None:
        super().load_state(data, state)
        self.n_items = data.n_items
