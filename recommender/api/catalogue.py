"""Product data (marts.products) held in memory, and the popularity baseline computed from
marts.user_item_interactions: what the API serves to users without history, and to everyone
while no model has been trained."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import psycopg

from recommender.api.schemas import Product

POPULARITY_DAYS = 30

# Popularity: interest in the last POPULARITY_DAYS days of the warehouse's data, each user's
# interest in a product saturated (ln(1 + feedback score)) so that one heavy user cannot make an
# item popular.
_QUERY = f"""
    with recent as (
        select max(last_interaction_at) - interval '{POPULARITY_DAYS} days' as since
        from marts.user_item_interactions
    ),
    popularity as (
        select uii.product_id, sum(ln(1 + uii.feedback_score::float8)) as score
        from marts.user_item_interactions as uii, recent
        where uii.last_interaction_at >= recent.since
        group by uii.product_id
    )
    select p.product_id, p.product_name, p.category, p.brand, p.list_price::float8,
           coalesce(popularity.score, 0)::float8 as score
    from marts.products as p
    left join popularity on popularity.product_id = p.product_id
    order by score desc, p.product_id
"""


class CatalogueMissing(RuntimeError):
    """The warehouse has no products yet."""


@dataclass
class ProductCatalogue:
    """The API's product details (names, prices, categories) and the warehouse's popularity order.

    Not ``recommender.matrix.Catalogue``, the training side's product-to-category columns."""

    products: dict[int, Product]
    ranked: list[tuple[int, float]]  # every product, most popular first
    by_category: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    # Each product as the start of a compact JSON object ('{"product_id":1,...,"price":9.99'), so that
    # responses are assembled without serialising the same product again and again.
    fragments: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.fragments:
            self.fragments = {pid: json.dumps(p.model_dump(), separators=(",", ":"))[:-1]
                              for pid, p in self.products.items()}

    @classmethod
    def empty(cls) -> ProductCatalogue:
        return cls({}, [], {})

    def __len__(self) -> int:
        return len(self.products)

    @property
    def categories(self) -> list[str]:
        return sorted(self.by_category)

    def popular(self, k: int, category: str | None = None) -> list[tuple[int, float]]:
        ranked = self.ranked if category is None else self.by_category.get(category, [])
        return ranked[:k]

    def product_ids(self) -> np.ndarray:
        return np.fromiter(self.products, dtype=np.int64, count=len(self.products))


async def load_product_catalogue(conn: psycopg.AsyncConnection) -> ProductCatalogue:
    exists = await (await conn.execute(
        "select to_regclass('marts.products') is not null and to_regclass('marts.user_item_interactions') is not null"
    )).fetchone()
    if not exists[0]:
        raise CatalogueMissing(
            "the warehouse has no marts.products / marts.user_item_interactions yet: "
            "run `shop simulate` and `shop build`"
        )
    rows = await (await conn.execute(_QUERY)).fetchall()
    products: dict[int, Product] = {}
    ranked: list[tuple[int, float]] = []
    by_category: dict[str, list[tuple[int, float]]] = {}
    for product_id, name, category, brand, price, score in rows:
        products[product_id] = Product(product_id=product_id, name=name or f"product {product_id}",
                                       category=category or "", brand=brand or "", price=round(price or 0.0, 2))
        ranked.append((product_id, score))
        by_category.setdefault(category or "", []).append((product_id, score))
    return ProductCatalogue(products, ranked, by_category)
