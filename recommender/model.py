"""A trained model as the API uses it: recommendations for a user (folding in fresh events),
similar items, and popular items for users without history."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recommender.algorithms import Algorithm, top_k
from recommender.matrix import UserItemData, fold_in
from shopcore.events import EVENT_TYPES


@dataclass(frozen=True)
class Recommendation:
    product_id: int
    score: float


@dataclass(frozen=True)
class RecentEvent:
    """An event newer than the model's watermark: ``event_type`` is view, add_to_cart or purchase."""

    product_id: int
    event_type: str


def _event_codes(events: Iterable[RecentEvent | tuple[int, str]]) -> tuple[np.ndarray, np.ndarray]:
    products, codes = [], []
    for event in events:
        product_id, kind = (event.product_id, event.event_type) if isinstance(event, RecentEvent) else event
        name = str(kind).strip().lower()
        if name not in EVENT_TYPES:
            raise ValueError(f"event_type must be one of {', '.join(EVENT_TYPES)}, got {kind!r}")
        products.append(int(product_id))
        codes.append(EVENT_TYPES.index(name))
    return np.array(products, dtype=np.int64), np.array(codes, dtype=np.int64)


class TrainedModel:
    def __init__(self, algorithm: Algorithm, data: UserItemData, card: dict[str, Any]) -> None:
        self.algorithm = algorithm
        self.data = data
        self.card = card
        self.popularity = np.asarray(data.confidence.sum(axis=0)).ravel()

    @property
    def name(self) -> str:
        return self.algorithm.name

    def _category_mask(self, category: str | None) -> np.ndarray | None:
        if category is None:
            return None
        code = self.data.category_index(category)
        if code < 0:
            raise ValueError(f"unknown category {category!r}")
        return self.data.item_category == code

    def _ranked(self, scores: np.ndarray, k: int, exclude: np.ndarray | None = None,
                category: str | None = None) -> list[Recommendation]:
        scores = scores.astype(np.float64, copy=True)
        mask = self._category_mask(category)
        if mask is not None:
            scores[~mask] = -np.inf
        if exclude is not None and len(exclude):
            scores[exclude] = -np.inf
        top = top_k(scores[None, :], k)[0]
        top = top[np.isfinite(scores[top])]
        return [Recommendation(int(self.data.items.ids[i]), float(scores[i])) for i in top]

    def popular(self, k: int = 10, category: str | None = None) -> list[Recommendation]:
        """The most popular products, optionally within one category."""
        return self._ranked(self.popularity, k, category=category)

    def recommend(
        self, user_id: int, k: int = 10, recent_events: Sequence[RecentEvent | tuple[int, str]] = (),
        *, exclude: Iterable[int] = (), category: str | None = None,
    ) -> list[Recommendation]:
        """Top-k products for ``user_id``. ``recent_events`` (newer than the model's watermark)
        are folded into the user's row at request time, so they count without retraining; a
        user with no history and no events gets popular products."""
        products, codes = _event_codes(recent_events)
        known = self.data.users.index(user_id)[0] >= 0
        exclude_idx = self.data.items.index(np.fromiter(exclude, dtype=np.int64))
        exclude_idx = exclude_idx[exclude_idx >= 0]
        usable = self.data.items.index(products) >= 0
        if not known and not usable.any():
            return self._ranked(self.popularity, k, exclude_idx, category)
        rows = fold_in(self.data, user_id, products, codes)
        scores = self.algorithm.score(rows)[0]
        return self._ranked(scores, k, exclude_idx, category)

    def similar_items(self, product_id: int, k: int = 10) -> list[Recommendation]:
        item = int(self.data.items.index(product_id)[0])
        if item < 0:
            raise KeyError(f"product {product_id} is not in the model")
        ids, scores = self.algorithm.similar_items(item, k)
        return [Recommendation(int(self.data.items.ids[i]), float(s)) for i, s in zip(ids, scores)
                if np.isfinite(s)]
