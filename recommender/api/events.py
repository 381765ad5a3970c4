"""POST /events: parse and validate a body of one event or a batch, then write it to
raw.interactions in one transaction (COPY) and hand the events to the in-memory fold-in.

Validation, in order: body size (413), JSON syntax (422; also numbers that are not finite doubles,
integers of more than MAX_INT_DIGITS digits and nesting deeper than MAX_DEPTH), shape (an object or a non-empty array
of at most SHOP_API_MAX_BATCH objects, else 413/422), each event's fields (422, every problem
listed with its location), then against the database in the same transaction: the product must be in
raw.products (the warehouse's relationship tests fail the build otherwise: 422 naming the products,
nothing written), and a user not in raw.users is created there (unknown attributes, signed up at
their first event; ``on conflict do nothing``); an omitted unit_price is the product's current list price from raw.products.
All SQL is parameterised.
"""

from __future__ import annotations

import json
import math
import uuid
from decimal import Decimal
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import ValidationError

from recommender.api.fresh import FreshEvent
from recommender.api.schemas import EVENT_TYPE_HINT, EventIn

_COPY = ("copy raw.interactions (event_id, session_id, user_id, product_id, event_type, quantity, unit_price, "
         "order_id, recommendation_variant, occurred_at) from stdin")
_EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
MAX_DEPTH = 32  # an event is two levels deep (a batch of objects): anything far deeper is not one
MAX_INT_DIGITS = 100  # far above any bigint, far below Python's own 4300-digit limit


class EventsRejected(Exception):
    """422 with FastAPI's validation-error shape: a list of {loc, msg, type}."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the request")
        self.errors = errors


class PayloadTooLarge(Exception):
    pass


def _error(loc: Sequence[str | int], msg: str, kind: str, value: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "loc": list(loc), "msg": msg}
    if value is not None:
        out["input"] = value
    return out


class _BadNumber(ValueError):
    pass


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float | int:
    """A JSON number with a fraction or exponent: a float, or the exact integer when it is a whole
    number (JSON Schema's "integer" counts 42.0 as 42, so the server does too)."""
    value = float(text)
    if not math.isfinite(value):
        raise _BadNumber(f"the number {text[:40]} is out of range: numbers must be finite (at most about 1.8e308)")
    exact = Decimal(text)
    if exact == exact.to_integral_value():
        if exact.adjusted() >= MAX_INT_DIGITS:
            raise _BadNumber(f"the number {text[:40]} is out of range: numbers must be finite and integers at "
                             f"most {MAX_INT_DIGITS} digits long")
        return int(exact)
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _BadNumber(f"an integer of {len(text.lstrip('-'))} digits is out of range: numbers must be finite "
                         f"and integers at most {MAX_INT_DIGITS} digits long")
    return int(text)


def _too_deep(payload: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects nest more than ``limit`` deep (iterative: no recursion to exhaust)."""
    stack = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _deep_error() -> EventsRejected:
    return EventsRejected([_error(["body"], f"the JSON is nested too deep: at most {MAX_DEPTH} levels of arrays "
                                  "and objects (an event needs two)", "json_too_deep")])


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``; raises EventsRejected for anything that is not plain, finite JSON."""
    try:
        payload = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float,
                             parse_int=_bounded_int)
    except RecursionError:
        raise _deep_error() from None
    except _BadNumber as exc:
        raise EventsRejected([_error(["body"], str(exc), "finite_number")]) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventsRejected([_error(["body"], f"the body is not valid JSON: {exc}", "json_invalid")]) from None
    if isinstance(payload, (dict, list)) and _too_deep(payload):
        raise _deep_error()
    return payload


def json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` made encodable as strict JSON in UTF-8, for echoing input back in an error: lone
    surrogates become their \\u escape as text, numbers that are not finite become text."""
    if isinstance(value, str):
        return value if value.isascii() else value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if depth > MAX_DEPTH:
        return "..."
    if isinstance(value, dict):
        return {json_safe(k, depth + 1): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, depth + 1) for v in value]
    return value


def parse_body(body: bytes, *, max_batch: int) -> tuple[list[EventIn], bool]:
    """The events in ``body`` and whether it was a batch; raises EventsRejected or PayloadTooLarge."""
    payload = parse_json(body)
    if isinstance(payload, dict):
        items, batch = [payload], False
    elif isinstance(payload, list):
        if not payload:
            raise EventsRejected([_error(["body"], "the batch is empty: send at least one event", "too_short")])
        if len(payload) > max_batch:
            raise PayloadTooLarge(f"the batch has {len(payload)} events; send at most {max_batch} per request")
        items, batch = payload, True
    else:
        raise EventsRejected([_error(["body"], "the body must be one event (a JSON object) or a batch "
                                     "(a JSON array of objects)", "model_attributes_type")])
    events: list[EventIn] = []
    errors: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        prefix: list[str | int] = ["body", i] if batch else ["body"]
        try:
            event = EventIn.model_validate(item)
        except ValidationError as exc:
            for e in exc.errors(include_url=False):
                msg = e["msg"]
                if e["type"] == "string_pattern_mismatch" and tuple(e["loc"]) == ("event_type",):
                    msg = f"{EVENT_TYPE_HINT} (got {e['input']!r})"  # not the regex, which reads badly
                detail = {"type": e["type"], "loc": prefix + list(e["loc"]), "msg": msg}
                if "input" in e and not isinstance(e["input"], (dict, list)):
                    detail["input"] = e["input"]
                errors.append(detail)
            continue
        events.append(event)
        errors.extend(_rules(event, prefix))
    if errors:
        raise EventsRejected(errors)
    return events, batch


def _rules(event: EventIn, prefix: list[str | int]) -> list[dict[str, Any]]:
    errors = []
    if event.event_type == "purchase" and event.order_id is None:
        errors.append(_error(prefix + ["order_id"], "a purchase needs an order_id (one checkout is one order)",
                             "missing"))
    if event.event_type != "purchase" and event.order_id is not None:
        errors.append(_error(prefix + ["order_id"], f"only purchases have an order_id, not {event.event_type} events",
                             "extra_forbidden"))
    return errors


def check_times(events: list[EventIn], now: datetime, max_future_s: float, batch: bool) -> None:
    errors = []
    latest = now + timedelta(seconds=max_future_s)
    for i, event in enumerate(events):
        loc = (["body", i] if batch else ["body"]) + ["occurred_at"]
        if event.occurred_at is None:
            continue
        if event.occurred_at > latest:
            errors.append(_error(loc, f"occurred_at is in the future ({event.occurred_at.isoformat()}; the server "
                                 f"time is {now.isoformat(timespec='seconds')}); check the sender's clock",
                                 "less_than_equal"))
        elif event.occurred_at < _EARLIEST:
            errors.append(_error(loc, "occurred_at is before 2000-01-01", "greater_than_equal"))
    if errors:
        raise EventsRejected(errors)


async def write_events(conn, events: list[EventIn], *, batch: bool,
                       max_future_s: float) -> tuple[datetime, list[tuple[int, FreshEvent]], list[uuid.UUID]]:
    """Validate against raw.users/raw.products and COPY the events, in the connection's transaction."""
    now, now_us = await (await conn.execute(
        "select now(), (extract(epoch from now()) * 1000000)::int8")).fetchone()
    check_times(events, now, max_future_s, batch)
    products = list({e.product_id for e in events})
    prices = dict(await (await conn.execute(
        "select product_id, price from raw.products where product_id = any(%s)", (products,))).fetchall())
    errors = []
    for i, e in enumerate(events):
        prefix: list[str | int] = ["body", i] if batch else ["body"]
        if e.product_id not in prices:
            errors.append(_error(prefix + ["product_id"], f"product {e.product_id} does not exist (not in raw.products)",
                                 "unknown_product", e.product_id))
    if errors:
        raise EventsRejected(errors)
    # Anonymous visitors arrive before the shop tells us about them: a user it has never seen is
    # created with unknown attributes, signed up at their first event (a known user is left alone).
    first_seen: dict[int, datetime] = {}
    for e in events:
        at = e.occurred_at or now
        if e.user_id not in first_seen or at < first_seen[e.user_id]:
            first_seen[e.user_id] = at
    await conn.execute(
        "insert into raw.users (user_id, signup_at) select * from unnest(%s::int8[], %s::timestamptz[]) "
        "on conflict (user_id) do nothing", (list(first_seen), list(first_seen.values())))
    written: list[tuple[int, FreshEvent]] = []
    ids: list[uuid.UUID] = []
    async with conn.cursor() as cur:
        async with cur.copy(_COPY) as copy:
            for e in events:
                event_id = e.event_id or uuid.uuid4()
                await copy.write_row((
                    event_id, e.session_id, e.user_id, e.product_id, e.event_type, e.quantity,
                    e.unit_price if e.unit_price is not None else prices[e.product_id],
                    e.order_id, e.recommendation_variant, e.occurred_at or now,
                ))
                ids.append(event_id)
                written.append((e.user_id, FreshEvent(e.product_id, e.event_type, now_us, event_id)))
    return now, written, ids
