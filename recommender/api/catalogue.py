"""Product data (marts.products) held in memory, and the popularity baseline computed from
marts.user_item_interactions: what the API serves to users without history, and to everyone
while no model has been trained."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg

from recommender.api.schemas import Product

POPULARITY_DAYS = 30
UNKNOWN_CATEGORY = "unknown"  # what staging.stg_shop__products calls a category the shop has not told

# Popularity: interest in the last POPULARITY_DAYS days of the warehouse's data, each user's
# interest in a product saturated (ln(1 + feedback score)) so that one heavy user cannot make an
# item popular.
_QUERY = """
    with recent as (
        select max(last_interaction_at) - interval '{days} days' as since
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
    {where}
    order by score desc, p.product_id
"""
_ACTIVE_ONLY = "where p.active"  # a warehouse built before migration 0009 has no such column: all are active


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
    # Every product's popularity score, including products made inactive since the load.
    scores: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.scores:
            self.scores = dict(self.ranked)
        if not self.fragments:
            self.fragments = {pid: _fragment(p) for pid, p in self.products.items()}

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

    def with_rows(self, rows: Iterable[Any]) -> ProductCatalogue | None:
        """This catalogue with the shop's newest product rows applied (``live.ProductRow``: details
        replaced, a new product added at the end of the popularity order with score 0, an inactive
        one removed); None when nothing changes."""
        products = dict(self.products)
        changed = False
        for row in rows:
            if not row.active:
                changed |= products.pop(row.product_id, None) is not None
                continue
            product = _product(row.product_id, row.name, row.category, row.brand, row.price)
            if products.get(row.product_id) != product:
                products[row.product_id] = product
                changed = True
        if not changed:
            return None
        # The warehouse's popularity order, kept for a product that leaves and comes back; a new
        # product has none yet (score 0) until a build counts it.
        scores = dict(self.scores)
        added = [pid for pid in products if pid not in self.products]
        if added:
            for pid in added:
                scores.setdefault(pid, 0.0)
            ranked = sorted(((pid, scores[pid]) for pid in products), key=lambda r: (-r[1], r[0]))
        else:
            ranked = [(pid, score) for pid, score in self.ranked if pid in products]
        by_category: dict[str, list[tuple[int, float]]] = {}
        for pid, score in ranked:
            by_category.setdefault(products[pid].category, []).append((pid, score))
        fragments = {pid: fragment for pid, fragment in self.fragments.items()
                     if pid in products and self.products.get(pid) == products[pid]}
        fragments.update((pid, _fragment(p)) for pid, p in products.items() if pid not in fragments)
        return ProductCatalogue(products, ranked, by_category, fragments, scores)


def _product(product_id: int, name: str | None, category: str | None, brand: str | None,
             price: float | None) -> Product:
    # A name is what a list shows, so an unknown one gets the product's id as its label; an unknown
    # brand or price stays null (not "" or 0, which a client would take for real values).
    return Product(product_id=product_id, name=name or f"product {product_id}",
                   category=category or UNKNOWN_CATEGORY, brand=brand or None,
                   price=None if price is None else round(price, 2))


def _fragment(product: Product) -> str:
    return json.dumps(product.model_dump(), separators=(",", ":"))[:-1]


async def load_product_catalogue(conn: psycopg.AsyncConnection) -> ProductCatalogue:
    exists = await (await conn.execute(
        "select to_regclass('marts.products') is not null and to_regclass('marts.user_item_interactions') is not null"
    )).fetchone()
    if not exists[0]:
        raise CatalogueMissing(
            "the warehouse has no marts.products / marts.user_item_interactions yet: "
            "run `shop simulate` and `shop build`"
        )
    has_active = (await (await conn.execute(
        "select exists (select 1 from information_schema.columns "
        "where table_schema = 'marts' and table_name = 'products' and column_name = 'active')")).fetchone())[0]
    query = _QUERY.format(days=int(POPULARITY_DAYS), where=_ACTIVE_ONLY if has_active else "")
    rows = await (await conn.execute(query)).fetchall()
    products: dict[int, Product] = {}
    ranked: list[tuple[int, float]] = []
    by_category: dict[str, list[tuple[int, float]]] = {}
    for product_id, name, category, brand, price, score in rows:
        products[product_id] = _product(product_id, name, category, brand, price)
        ranked.append((product_id, score))
        by_category.setdefault(products[product_id].category, []).append((product_id, score))
    return ProductCatalogue(products, ranked, by_category)
