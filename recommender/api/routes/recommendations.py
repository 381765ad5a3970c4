"""GET /recommendations/{user_id}: the storefront's per-page-view call. Memory only.

The hot path of the API, so each answer is built once and kept (``ApiState.answers``, keyed by
variant, user, k and the user's fresh events; a new cache when a model or the catalogue changes):
the response's bytes after the per-request head (request id and user), the served-log row's
COPY text, and the strategy. A request then costs a dictionary look-up, a request id and one
bytes join. The answer is returned as a Response, which FastAPI sends as it is;
``response_model`` still documents it, and the schema-driven fuzz test checks every answer
against that document.

For the same reason plain requests (``/recommendations/42?k=10``) reach the endpoint without
FastAPI's parameter machinery (``PlainArgumentsRoute``; anything else is validated by FastAPI as
usual), and the state comes from ``request.app.state`` rather than the StateDep dependency used
elsewhere: resolving parameters and dependencies cost more than serving a cached answer.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, NamedTuple

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.routing import APIRoute

from recommender.api import metrics
from recommender.api.routes.common import items_json, require_catalogue
from recommender.api.schemas import MAX_BIGINT, ErrorOut, RecommendationsOut
from recommender.api.served_log import row_tail
from recommender.api.state import ApiState

MARGIN = 10  # extra candidates in case some products left the catalogue
DEFAULT_K, MAX_K = 10, 100


def plain_arguments(scope: dict) -> tuple[int, int] | None:
    """``(user_id, k)`` when the request is in the one plain form a storefront sends (user id and k
    as decimal digits without leading zeros, within range; no other query parameter), else None."""
    raw = scope["path_params"].get("user_id", "")
    if not (raw.isascii() and raw.isdigit()) or raw[0] == "0" or len(raw) > 19:
        return None
    user_id = int(raw)
    if user_id > MAX_BIGINT:
        return None
    query = scope["query_string"]
    if not query:
        return user_id, DEFAULT_K
    value = query[2:]
    if query[:2] != b"k=" or not value.isdigit() or value[0] == 48 or len(value) > 3:  # 48: b"0"
        return None
    k = int(value)
    return (user_id, k) if k <= MAX_K else None


class PlainArgumentsRoute(APIRoute):
    """An APIRoute whose handler calls the endpoint directly for plain requests (see
    ``plain_arguments``): FastAPI's parameter machinery costs more than a cached answer. Every
    other request, including every invalid one, goes through FastAPI's validation as usual, and
    the OpenAPI document is made from the endpoint's signature as for any route."""

    def get_route_handler(self):
        validated = super().get_route_handler()
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            arguments = plain_arguments(request.scope)
            if arguments is None:
                return await validated(request)
            return await endpoint(user_id=arguments[0], request=request, k=arguments[1])

        return handler


router = APIRouter(tags=["recommendations"], route_class=PlainArgumentsRoute)


class Answer(NamedTuple):
    body_tail: bytes  # ',"strategy":...,"items":[...]}': the response after request_id and user_id
    log_tail: str  # served_log.row_tail(...)
    strategy: str
    known: bool  # the API has history of the user (ApiState.knows)


def build_answer(state: ApiState, variant: str, user_id: int, k: int, fresh: list) -> Answer:
    """Rank (or fall back to popular products) and serialise: what a cache miss costs."""
    catalogue = require_catalogue(state)
    rec = state.recommender(variant)
    ranked = rec.personalised(user_id, fresh, k)
    strategy = "personalised"
    if not ranked:
        strategy = "popular"
        ranked = rec.popular(k + MARGIN, None) or state.popularity.popular(k + MARGIN, None)
    items, product_ids = items_json(ranked, catalogue, k)
    tail = (f',"strategy":"{strategy}","variant":{json.dumps(variant)},"model_id":{json.dumps(rec.model_id)},'
            f'"fresh_events":{len(fresh)},"items":{items}}}')
    return Answer(tail.encode(), row_tail(variant, rec.model_id, strategy, product_ids, state.assigner.weights_json), strategy,
                  state.knows(user_id))


@router.get(
    "/recommendations/{user_id}",
    response_model=RecommendationsOut,
    summary="Products to show a user",
    responses={503: {"model": ErrorOut, "description": "No product data loaded yet"}},
)
async def recommendations(
    user_id: Annotated[int, Path(ge=1, le=MAX_BIGINT, description="The user's id.")],
    request: Request,
    k: Annotated[int, Query(ge=1, le=MAX_K, description="How many products.")] = DEFAULT_K,
) -> Response:
    """Personalised products for a known user, folding in their events newer than the model's
    data watermark; popular products (strategy "popular") for a user without history."""
    state: ApiState = request.app.state.api
    variant = state.variant_for(user_id).name
    fresh = state.fresh.for_user(user_id, state.recommender(variant).watermark_us)
    key = (variant, user_id, k, len(fresh), fresh[-1].event_id if fresh else None)
    answer: Answer = state.answers.get_or_build(key, lambda: build_answer(state, variant, user_id, k, fresh))
    request_id = state.served.impression(user_id, answer.log_tail, answer.known, time.time())
    metrics.recommendation_served(variant, answer.strategy)
    return Response(b'{"request_id":"%s","user_id":%d%s' % (request_id.encode(), user_id, answer.body_tail),
                    media_type="application/json")
