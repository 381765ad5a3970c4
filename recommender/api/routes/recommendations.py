"""GET /recommendations/{user_id}: the storefront's per-page-view call. Memory only.

The answer is assembled as JSON text from pre-serialised products and returned as a Response,
which FastAPI sends as it is; ``response_model`` still documents it, and the schema-driven fuzz
test checks every answer against that document.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from recommender.api import metrics
from recommender.api.deps import StateDep
from recommender.api.routes.common import items_json, require_catalogue
from recommender.api.schemas import MAX_BIGINT, ErrorOut, RecommendationsOut
from recommender.api.served_log import Served

router = APIRouter(tags=["recommendations"])

MARGIN = 10  # extra candidates in case some products left the catalogue


@router.get(
    "/recommendations/{user_id}",
    response_model=RecommendationsOut,
    summary="Products to show a user",
    responses={503: {"model": ErrorOut, "description": "No product data loaded yet"}},
)
async def recommendations(
    user_id: Annotated[int, Path(ge=1, le=MAX_BIGINT, description="The user's id.")],
    state: StateDep,
    k: Annotated[int, Query(ge=1, le=100, description="How many products.")] = 10,
) -> Response:
    """Personalised products for a known user, folding in their events newer than the model's
    data watermark; popular products (strategy "popular") for a user without history."""
    catalogue = require_catalogue(state)
    variant = state.variant_for(user_id)
    ranker = state.ranker(variant.name)
    fresh = state.fresh.for_user(user_id, ranker.watermark_us)
    key = (variant.name, user_id, k, len(fresh), fresh[-1].event_id if fresh else None)
    answers = state.answers
    answer = answers.get(key)
    if answer is None:
        ranked = ranker.personalised(user_id, fresh, k)
        strategy = "personalised"
        if not ranked:
            strategy = "popular"
            ranked = ranker.popular(k + MARGIN, None) or state.popularity.popular(k + MARGIN, None)
        answer = (strategy, *items_json(ranked, catalogue, k))
        state.remember(key, answer)
    else:
        answers.move_to_end(key)
    strategy, items, product_ids = answer
    request_id = uuid.uuid4()
    state.served.record(Served(request_id, user_id, variant.name, ranker.model_id, strategy, product_ids,
                               time.time()))
    metrics.recommendation_served(variant.name, strategy)
    model_id = "null" if ranker.model_id is None else f'"{ranker.model_id}"'
    body = (f'{{"request_id": "{request_id}", "user_id": {user_id}, "strategy": "{strategy}", '
            f'"variant": "{variant.name}", "model_id": {model_id}, "fresh_events": {len(fresh)}, "items": {items}}}')
    return Response(body.encode(), media_type="application/json")
