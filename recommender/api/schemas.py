"""Request and response models: every route answers with one of these (and /docs shows them)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import re

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

from shopcore.events import EVENT_TYPES, SYNONYMS, event_type_pattern, normalise_event_type

MAX_BIGINT = 2**63 - 1



def _clean_text(value: Any) -> Any:
    """Text PostgreSQL can store and every client can read: no NUL, no lone UTF-16 surrogate.
    (Before the string validation, which would refuse a surrogate without saying why.)"""
    if not isinstance(value, str):
        return value
    if "\x00" in value:
        raise ValueError("must not contain a NUL character (\\u0000)")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must not contain a lone surrogate (\\ud800-\\udfff): send valid Unicode") from None
    return value


# Every string field of a request: refused with a clear 422 rather than failing in the database.
# (The pattern tells the OpenAPI document's readers about NUL; a lone surrogate can only arrive as a
# JSON escape, since UTF-8 text cannot hold one.)
CleanStr = Annotated[str, BeforeValidator(_clean_text), Field(json_schema_extra={"pattern": "^[^\\u0000]*$"})]

# Money (prices): a JSON number with at most two decimal places (a float's binary noise, such as
# 0.5700000000000001, is the 0.57 that was meant), or the same as a decimal string; > 0 and within
# numeric(10, 2). The document declares exactly this.
MAX_MONEY = Decimal("99999999.99")
_MONEY_TEXT = r"^(?!0*(?:\.0*)?$)[0-9]{1,8}(?:\.[0-9]{1,2})?$"
_MONEY_HINT = "a price is a number > 0 with at most two decimal places, at most 99999999.99 (e.g. 9.99)"


def _money(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(_MONEY_HINT)
    if isinstance(value, float):
        cents = round(value * 100)
        if abs(value * 100 - cents) > 1e-6 * max(1.0, abs(value * 100)):
            raise ValueError(f"{_MONEY_HINT}: {value!r} has more decimal places")
        return Decimal(cents).scaleb(-2)
    if isinstance(value, str):
        if not re.fullmatch(_MONEY_TEXT, value):
            raise ValueError(f"{_MONEY_HINT}; as text, digits with at most two decimal places (got {value[:40]!r})")
        return Decimal(value)
    return value


Money = Annotated[Decimal, BeforeValidator(_money), Field(gt=0, le=MAX_MONEY), WithJsonSchema({"anyOf": [
    {"type": "number", "exclusiveMinimum": 0, "maximum": float(MAX_MONEY), "multipleOf": 0.01},
    {"type": "string", "pattern": _MONEY_TEXT},
]})]


def _time_text(value: Any) -> Any:
    """A date-time is an RFC 3339 string (not a number of seconds, which the document does not allow)."""
    if value is not None and not isinstance(value, str):
        raise ValueError("send a date-time as an RFC 3339 string with a UTC offset, e.g. 2024-05-01T12:00:00Z")
    return value


Time = Annotated[AwareDatetime, BeforeValidator(_time_text)]

Strategy = Literal["personalised", "popular", "similar", "popular_in_category"]


class Product(BaseModel):
    product_id: int
    name: str = Field(description="The product's name; 'product <id>' when the shop has not told it.")
    category: str = Field(description="Lower-case category; 'unknown' when the shop has not told it.")
    brand: str | None = Field(description="The brand; null when unknown.")
    price: float | None = Field(description="Current list price; null when unknown.")


class RecommendedProduct(Product):
    score: float = Field(description="The model's score (higher is better); comparable within one response only.")
    reason: str = Field(description="Why it is recommended, e.g. 'because you viewed Ceramic Mug'.")


class RecommendationsOut(BaseModel):
    request_id: UUID = Field(description="Identifies the impression in raw.served_recommendations: the same "
                             "answer to the same user within SHOP_API_IMPRESSION_WINDOW_S repeats the first one's id "
                             "(one impression). An answer over the logging ceiling has an id that is not logged.")
    user_id: int
    strategy: Strategy = Field(description="'personalised' from the user's history, 'popular' for users without one.")
    variant: str = Field(description="The A/B variant the user is assigned to (SHOP_API_VARIANTS).")
    model_id: str | None = Field(description="The model that ranked the products; null for the popularity baseline.")
    fresh_events: int = Field(description="Events newer than the model's data watermark folded in at request time.")
    items: list[RecommendedProduct]


class ProductListOut(BaseModel):
    strategy: Strategy
    variant: str
    model_id: str | None
    items: list[RecommendedProduct]


class SimilarOut(ProductListOut):
    product: Product


EVENT_TYPE_HINT = (f"event_type must be one of {', '.join(EVENT_TYPES)} or a synonym ({', '.join(SYNONYMS)}); "
                   "letter case, spaces around it and a space or hyphen for an underscore do not matter")


def _order_rule(schema: dict[str, Any]) -> None:
    """The document says what the server checks (``events._rules``): a purchase has an order_id,
    any other event has none."""
    purchase = event_type_pattern(("purchase",))
    others = event_type_pattern(tuple(t for t in EVENT_TYPES if t != "purchase"))
    schema["anyOf"] = [
        {"properties": {"event_type": {"pattern": purchase}, "order_id": {"type": "string", "format": "uuid"}},
         "required": ["order_id"]},
        {"properties": {"event_type": {"pattern": others}, "order_id": {"type": "null"}}},
    ]


class EventIn(BaseModel):
    """One interaction, in the shape of raw.interactions (loaded_at is set by the server). A purchase
    has an order_id; other events have none."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_order_rule)

    event_id: UUID | None = Field(default=None, description="Identity of the event; generated when omitted. "
                                  "Resending the same event_id is safe (the warehouse de-duplicates).")
    session_id: UUID
    # Strict integers: true is not user 1, and "42" or 42.0 are not whole numbers sent as such.
    user_id: int = Field(strict=True, ge=1, le=MAX_BIGINT, description="A user in raw.users (a JSON integer).")
    product_id: int = Field(strict=True, ge=1, le=MAX_BIGINT, description="A product in raw.products (a JSON integer).")
    # The pattern is made from the vocabulary (dbt_project.yml's vars, shopcore.events): the server
    # accepts exactly what it matches, and the OpenAPI document declares it.
    event_type: Annotated[str, BeforeValidator(_clean_text)] = Field(
        max_length=40, pattern=event_type_pattern(),
        description=f"{', '.join(EVENT_TYPES)} or a synonym ({', '.join(SYNONYMS)}), in any letter case, a space "
                    "or hyphen for each underscore, spaces around allowed: normalised ('Add to cart' is add_to_cart). Exactly the spellings the pattern matches are accepted.")
    quantity: int = Field(default=1, strict=True, ge=1, le=10_000)
    unit_price: Money | None = Field(default=None,
                                     description="Price at event time; omitted: the product's current list price.")
    order_id: UUID | None = Field(default=None, description="Required on purchases (one checkout is one order), "
                                  "absent otherwise.")
    recommendation_variant: CleanStr | None = Field(default=None, min_length=1, max_length=64,
                                               description="The variant whose recommendation led to this event.")
    occurred_at: Time | None = Field(default=None, description="When it happened, with a UTC offset; "
                                              "omitted: now. At most a few minutes in the future.")

    @field_validator("event_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        name = normalise_event_type(value)
        if name not in EVENT_TYPES:  # the pattern admits none: a vocabulary error, not the client's
            raise ValueError(f"{EVENT_TYPE_HINT} (got {value!r})")
        return name


class EventsAccepted(BaseModel):
    accepted: int
    event_ids: list[UUID]
    loaded_at: datetime


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class ReadinessCheck(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    status: Literal["ready", "degraded", "not ready"] = Field(
        description="ready (200); degraded (200: serving, but a check says what is wrong, e.g. a broken `current` "
                    "pointer); not ready (503)")
    checks: dict[str, ReadinessCheck]


class VariantModel(BaseModel):
    variant: str
    source: str = Field(description="'current', 'popular' or a pinned model directory.")
    weight: int
    model_id: str | None
    loaded_at: datetime | None
    card: dict[str, Any] | None = Field(description="The model card: algorithm, parameters, data watermark, "
                                        "metrics, trained_at.")
    error: str | None = Field(description="What is wrong with this variant's model, if anything: why the last load "
                              "failed (the previous model keeps serving), or why `current` is not served (another "
                              "model is); null when it serves what it should.")


class ModelOut(BaseModel):
    model_id: str | None = Field(description="The model `current` points at, as loaded.")
    card: dict[str, Any] | None
    variants: list[VariantModel]


class ErrorOut(BaseModel):
    detail: str


# ---------------------------------------------------------------- live integration (shop -> API)


class ProductIn(BaseModel):
    """A product's attributes as the shop sends them (PUT /products/{id}). An omitted field keeps its
    current value (a new product: unknown, and active); null makes it unknown."""

    model_config = ConfigDict(extra="forbid")

    name: CleanStr | None = Field(default=None, min_length=1, max_length=500)
    category: CleanStr | None = Field(default=None, min_length=1, max_length=200)
    brand: CleanStr | None = Field(default=None, min_length=1, max_length=200)
    price: Money | None = Field(default=None, description="Current list price (> 0, two decimals).")
    active: bool = Field(default=True, strict=True, description="false: no longer sold; it is never recommended "
                         "again (its history stays). true reactivates it.")


class ProductUpsert(ProductIn):
    """One product of a POST /products batch: its id and its attributes."""

    product_id: int = Field(strict=True, ge=1, le=MAX_BIGINT)


class ProductOut(BaseModel):
    """A row of raw.products after the write."""

    product_id: int
    sku: str | None
    name: str | None
    category: str | None
    brand: str | None
    price: float | None
    active: bool
    created: bool = Field(description="Whether this request created the product.")
    updated_at: datetime


class ProductsUpserted(BaseModel):
    upserted: int
    created: int
    products: list[ProductOut]


class UserIn(BaseModel):
    """A user's attributes as the shop knows them (PUT /users/{id}). An omitted field keeps its
    current value (a new user: unknown; signup_at: now); null makes it unknown (not signup_at)."""

    model_config = ConfigDict(extra="forbid")

    email: CleanStr | None = Field(default=None, min_length=3, max_length=320)
    full_name: CleanStr | None = Field(default=None, min_length=1, max_length=500)
    country: str | None = Field(default=None, pattern="^[A-Z]{2}$", description="ISO 3166-1 alpha-2, upper case.")
    channel: CleanStr | None = Field(default=None, min_length=1, max_length=64,
                                     description="Acquisition channel (organic, paid_search, ...).")
    signup_at: Time | None = Field(default=None, description="When they signed up, with a UTC offset (null: "
                                   "keep it).")


class UserOut(BaseModel):
    """A row of raw.users after the write."""

    user_id: int
    email: str | None
    full_name: str | None
    country: str | None
    channel: str | None
    signup_at: datetime
    created: bool = Field(description="Whether this request created the user.")
