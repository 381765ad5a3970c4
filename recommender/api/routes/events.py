"""POST /events: one event or a batch into raw.interactions; the user's next recommendation folds it in."""

from __future__ import annotations

import asyncio

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Request, status

from recommender.api import metrics
from recommender.api.deps import AUTH_RESPONSES, StateDep, require_api_key
from recommender.api.events import EventsRejected, PayloadTooLarge, parse_body, write_events
from recommender.api.schemas import ErrorOut, EventsAccepted



def request_body_schema(max_batch: int) -> dict:
    ref = {"$ref": "#/components/schemas/EventIn"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "oneOf": [ref, {"type": "array", "items": ref, "minItems": 1, "maxItems": max_batch}],
    }}}}}


async def _read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    """The body, at most ``limit`` bytes (413), arrived within ``timeout_s`` (408; the connection is
    closed). A client that disconnects raises starlette's ClientDisconnect, which the metrics
    middleware counts as 499 (nobody is left to answer)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                            f"the body has {int(declared):,} bytes; the limit is {limit:,} (send smaller batches)")
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                                        f"the body is larger than {limit:,} bytes (send smaller batches)")
                chunks.append(chunk)
    except TimeoutError:
        raise HTTPException(status.HTTP_408_REQUEST_TIMEOUT,
                            f"the request body did not arrive within {timeout_s:g} s; nothing was written",
                            headers={"Connection": "close"}) from None
    return b"".join(chunks)


def make_router(max_batch: int) -> APIRouter:
    events_router = APIRouter(tags=["events"])

    @events_router.post(
        "/events",
        status_code=status.HTTP_201_CREATED,
        response_model=EventsAccepted,
        summary="Record one event or a batch",
        dependencies=[Depends(require_api_key)],
        openapi_extra=request_body_schema(max_batch),
        responses={
            **AUTH_RESPONSES,
            408: {"model": ErrorOut, "description": "The body did not arrive within SHOP_API_BODY_TIMEOUT_S; "
                  "the connection is closed"},
            413: {"model": ErrorOut, "description": "Too many events (more than SHOP_API_MAX_BATCH in a batch) or "
                  "too large a body (SHOP_API_MAX_BODY_BYTES)"},
            415: {"model": ErrorOut, "description": "The body is not JSON"},
            422: {"description": "Invalid events, every problem with its location; an event for a product not in "
                  "raw.products is refused naming the product (nothing of the batch is written)"},
            503: {"model": ErrorOut, "description": "The database is unreachable, or busy (no free connection, "
                  "a lock or a statement timed out); nothing was written, retry after Retry-After seconds",
                  "headers": {"Retry-After": {"description": "Seconds to wait before retrying",
                                              "schema": {"type": "integer"}}}},
        },
    )
    async def post_events(request: Request, state: StateDep) -> EventsAccepted:
        """Validates the events (see EventIn) and writes them to raw.interactions; answers 201 once
        they are committed. A user's next recommendation reflects them. A user the shop has not seen
        yet (an anonymous visitor) is created in raw.users, attributes unknown, signed up at their
        first event; a product must be in raw.products."""
        settings = state.settings
        content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if content_type not in ("application/json", "") and not content_type.endswith("+json"):
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                                f"send the events as JSON (Content-Type: application/json), not {content_type}")
        body = await _read_body(request, settings.api_max_body_bytes, settings.api_body_timeout_s)
        try:
            events, batch = parse_body(body, max_batch=settings.api_max_batch)
        except PayloadTooLarge as exc:
            raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, str(exc)) from None
        try:
            async with state.db.connection() as conn:
                loaded_at, written, ids = await write_events(conn, events, batch=batch,
                                                             max_future_s=settings.api_max_future_skew_s)
        except psycopg.DataError as exc:  # validation should have caught it; the transaction rolled back
            diag = exc.diag.message_primary or type(exc).__name__
            raise EventsRejected([{"type": "value_error", "loc": ["body"],
                                   "msg": f"the database refused a value ({diag}); nothing was written"}]) from None
        for user_id, event in written:
            state.fresh.add(user_id, event)
        metrics.EVENTS_ACCEPTED.inc(len(ids))
        return EventsAccepted(accepted=len(ids), event_ids=ids, loaded_at=loaded_at)

    return events_router
