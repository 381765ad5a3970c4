"""The live integration: the shop tells the API about its products and users as they change.

PUT /products/{product_id}, POST /products (a batch) and PUT /users/{user_id} upsert raw.products /
raw.users behind the same API key as POST /events. The worker that handled a product write applies
it to its catalogue at once (new details served, an inactive product never recommended again) and
starts a new answer cache; the other workers learn it from their poll of the products
(``ApiState.poll_once``) within SHOP_API_POLL_INTERVAL_S.

Bodies are read like POST /events's: bounded in size (413) and time (408), plain finite JSON
(422 otherwise), then validated by the request models (422, every problem with its location).
"""

from __future__ import annotations

from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from pydantic import BaseModel, TypeAdapter, ValidationError

from recommender.api.deps import AUTH_RESPONSES, StateDep, require_api_key
from recommender.api.events import EventsRejected, parse_json
from recommender.api.live import products_by_id, upsert_products, upsert_user
from recommender.api.routes.events import _read_body
from recommender.api.schemas import (
    MAX_BIGINT, ErrorOut, ProductIn, ProductOut, ProductsUpserted, ProductUpsert, UserIn, UserOut,
)
from recommender.api.state import ApiState

ProductId = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="The product's id.")]
UserId = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="The user's id.")]


def _responses(batch: bool = False) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {
        **AUTH_RESPONSES,
        408: {"model": ErrorOut, "description": "The body did not arrive within SHOP_API_BODY_TIMEOUT_S; "
              "the connection is closed"},
        413: {"model": ErrorOut, "description": "Too large a body (SHOP_API_MAX_BODY_BYTES)"
              + (" or more than SHOP_API_MAX_BATCH products" if batch else "")},
        415: {"model": ErrorOut, "description": "The body is not JSON"},
        422: {"description": "Invalid body: every problem with its location; nothing was written"},
        503: {"model": ErrorOut, "description": "The database is unreachable or busy; nothing was written, retry "
              "after Retry-After seconds", "headers": {"Retry-After": {
                  "description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}},
    }
    return out


def _body_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


async def _payload(request: Request, state: ApiState) -> Any:
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type not in ("application/json", "") and not content_type.endswith("+json"):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                            f"send JSON (Content-Type: application/json), not {content_type}")
    settings = state.settings
    return parse_json(await _read_body(request, settings.api_max_body_bytes, settings.api_body_timeout_s))


def _validate(adapter: TypeAdapter, payload: Any) -> Any:
    try:
        return adapter.validate_python(payload)
    except ValidationError as exc:
        errors = []
        for e in exc.errors(include_url=False):
            detail = {"type": e["type"], "loc": ["body", *e["loc"]], "msg": e["msg"]}
            if "input" in e and not isinstance(e["input"], (dict, list)):
                detail["input"] = e["input"]
            errors.append(detail)
        raise EventsRejected(errors) from None


def _database_refused(exc: psycopg.Error) -> EventsRejected:
    diag = exc.diag.message_primary or type(exc).__name__
    return EventsRejected([{"type": "value_error", "loc": ["body"],
                            "msg": f"the database refused a value ({diag}); nothing was written"}])


async def _write_products(state: ApiState, items: list[tuple[int, ProductIn]]) -> list[ProductOut]:
    try:
        async with state.db.connection() as conn:
            written = await upsert_products(conn, items)
            rows = await products_by_id(conn, [p.product_id for p in written])
    except (psycopg.DataError, psycopg.IntegrityError) as exc:
        raise _database_refused(exc) from None
    state.apply_products(rows)  # committed: this worker follows at once, the others by their poll
    return written


_PRODUCT = TypeAdapter(ProductIn)
_USER = TypeAdapter(UserIn)


def make_router(max_batch: int) -> APIRouter:
    router = APIRouter(tags=["live integration"], dependencies=[Depends(require_api_key)])
    batch_adapter = TypeAdapter(list[ProductUpsert])

    # {product_id:int}: PUT /products/popular is a 405 (GET /products/popular exists), not an invalid id.
    @router.put("/products/{product_id:int}", response_model=ProductOut, summary="Create or update a product",
                responses={**_responses(), 404: {"model": ErrorOut, "description": "The product id is not a "
                                                 "whole number of digits (no such resource)"}},
                openapi_extra=_body_schema(_ref(ProductIn)))
    async def put_product(product_id: ProductId, request: Request, state: StateDep) -> ProductOut:
        """Upserts raw.products (omitted fields keep their value; `updated_at` moves). The next
        answers follow at once: new details are served, and an inactive product is never
        recommended again (personalised, popular and similar lists)."""
        product = _validate(_PRODUCT, await _payload(request, state))
        return (await _write_products(state, [(product_id, product)]))[0]

    @router.post("/products", response_model=ProductsUpserted, summary="Create or update products (a batch)",
                 responses=_responses(batch=True), openapi_extra=_body_schema(
                     {"type": "array", "items": _ref(ProductUpsert), "minItems": 1, "maxItems": max_batch}))
    async def post_products(request: Request, state: StateDep) -> ProductsUpserted:
        """Upserts each product as PUT /products/{id} does, in order (a product named twice ends as
        the later says), in one transaction (all or nothing)."""
        payload = await _payload(request, state)
        if isinstance(payload, list) and len(payload) > max_batch:
            raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                                f"the batch has {len(payload)} products; send at most {max_batch} per request")
        if isinstance(payload, list) and not payload:
            raise EventsRejected([{"type": "too_short", "loc": ["body"], "msg": "the batch is empty: send at "
                                   "least one product"}])
        products = _validate(batch_adapter, payload)
        written = await _write_products(state, [(p.product_id, p) for p in products])
        return ProductsUpserted(upserted=len(written), created=sum(p.created for p in written), products=written)

    @router.put("/users/{user_id}", response_model=UserOut, summary="Create or update a user",
                responses=_responses(), openapi_extra=_body_schema(_ref(UserIn)))
    async def put_user(user_id: UserId, request: Request, state: StateDep) -> UserOut:
        """Upserts raw.users (omitted fields keep their value; a new user without signup_at signed
        up now). An event for a user not sent here first creates them with unknown attributes."""
        user = _validate(_USER, await _payload(request, state))
        try:
            async with state.db.connection() as conn:
                return await upsert_user(conn, user_id, user)
        except (psycopg.DataError, psycopg.IntegrityError) as exc:
            raise _database_refused(exc) from None

    return router


SCHEMAS = (ProductIn, ProductUpsert, UserIn)
