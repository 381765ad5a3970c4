"""GET /products/popular and GET /products/{product_id}/similar. Memory only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from recommender.api.deps import StateDep
from recommender.api.routes.common import items_of, require_catalogue
from recommender.api.schemas import MAX_BIGINT, ErrorOut, ProductListOut, SimilarOut

router = APIRouter(prefix="/products", tags=["products"])

K = Annotated[int, Query(ge=1, le=100, description="How many products.")]
UserForVariant = Annotated[int | None, Query(ge=1, le=MAX_BIGINT,
                                             description="Optional: answer with this user's A/B variant.")]
MARGIN = 10


@router.get(
    "/popular",
    response_model=ProductListOut,
    summary="Popular products, optionally in one category",
    responses={404: {"model": ErrorOut, "description": "Unknown category"},
               503: {"model": ErrorOut, "description": "No product data loaded yet"}},
)
async def popular(
    state: StateDep,
    k: K = 10,
    category: Annotated[str | None, Query(max_length=200, description="Only this category.")] = None,
    user_id: UserForVariant = None,
) -> ProductListOut:
    catalogue = require_catalogue(state)
    if category is not None and category not in catalogue.by_category:
        known = ", ".join(catalogue.categories[:50])
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown category {category!r}; known categories: {known}")
    variant = state.variant_for(user_id)
    rec = state.recommender(variant.name)
    ranked = state.answers.get_or_build(
        ("popular", variant.name, k, category),
        lambda: rec.popular(k + MARGIN, category) or state.popularity.popular(k + MARGIN, category))
    return ProductListOut.model_construct(strategy="popular", variant=variant.name, model_id=rec.model_id,
                                          items=items_of(ranked, catalogue, k))


@router.get(
    "/{product_id}/similar",
    response_model=SimilarOut,
    summary="Products like this one",
    responses={404: {"model": ErrorOut, "description": "Unknown product"},
               503: {"model": ErrorOut, "description": "No product data loaded yet"}},
)
async def similar(
    product_id: Annotated[int, Path(ge=1, le=MAX_BIGINT, description="The product's id.")],
    state: StateDep,
    k: K = 10,
    user_id: UserForVariant = None,
) -> SimilarOut:
    """What the model recommends to someone who only looked at this product; for a product the
    model does not know (or without a model), popular products of its category."""
    catalogue = require_catalogue(state)
    product = catalogue.products.get(product_id)
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"product {product_id} is not in the catalogue")
    variant = state.variant_for(user_id)
    rec = state.recommender(variant.name)
    found = rec.similar(product_id, k + MARGIN)
    if found is None or not found[0]:
        found = state.popularity.similar(product_id, k + MARGIN)
    ranked, strategy = found if found is not None else ([], "similar")
    return SimilarOut.model_construct(strategy=strategy, variant=variant.name, model_id=rec.model_id
                                      if strategy == "similar" else None, product=product,
                                      items=items_of(ranked, catalogue, k))
