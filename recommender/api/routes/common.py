"""Turning ranked product ids into response items (names, prices and reasons from the catalogue)."""

from __future__ import annotations

import json
import math

from fastapi import HTTPException, status

from recommender.api.catalogue import ProductCatalogue
from recommender.api.schemas import RecommendedProduct
from recommender.api.serving import Ranked, reason_text
from recommender.api.state import ApiState

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def require_catalogue(state: ApiState) -> ProductCatalogue:
    catalogue = state.catalogue
    if not len(catalogue):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"no product data loaded yet ({state.catalogue_error}); try again shortly")
    return catalogue


def _listed(ranked: list[Ranked], catalogue: ProductCatalogue, k: int) -> list[Ranked]:
    products = catalogue.products
    out = [r for r in ranked if r.product_id in products and math.isfinite(r.score)]
    return out[:k]


def items_of(ranked: list[Ranked], catalogue: ProductCatalogue, k: int) -> list[RecommendedProduct]:
    out = []
    for r in _listed(ranked, catalogue, k):
        product = catalogue.products[r.product_id]
        out.append(RecommendedProduct.model_construct(
            **product.__dict__, score=round(r.score, 6), reason=reason_text(r.reason, catalogue, product.category)))
    return out


def items_json(ranked: list[Ranked], catalogue: ProductCatalogue, k: int) -> tuple[str, list[int]]:
    """The items as a JSON array (the RecommendedProduct schema), and their product ids.

    Built from the catalogue's pre-serialised products: the hot path of the API."""
    parts, ids = [], []
    products, fragments = catalogue.products, catalogue.fragments
    for r in _listed(ranked, catalogue, k):
        reason = reason_text(r.reason, catalogue, products[r.product_id].category)
        parts.append(f'{fragments[r.product_id]},"score":{round(r.score, 6)!r},"reason":{_dumps(reason)}}}')
        ids.append(r.product_id)
    return "[" + ",".join(parts) + "]", ids
