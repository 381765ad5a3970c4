"""A small client of the recommender API (SHOP_API_URL, default http://localhost:8000).

Standard library only; short timeouts so that an API that is down costs the page a moment, not a
hang. Every failure becomes ApiUnavailable with a message that says how to start the API.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from app.errors import ApiUnavailable

DEFAULT_API_URL = "http://localhost:8000"
TIMEOUT_S = 3.0


def api_url() -> str:
    return (os.environ.get("SHOP_API_URL") or DEFAULT_API_URL).rstrip("/")


@dataclass(frozen=True)
class RecommendedItem:
    product_id: int
    name: str
    category: str
    price: float | None  # None: the shop has not told it
    score: float
    reason: str


@dataclass(frozen=True)
class Recommendations:
    user_id: int
    strategy: str
    variant: str | None
    items: list[RecommendedItem]


def _get(path: str) -> Any:
    url = api_url() + path
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 (http(s) URL from settings)
            return json.load(response)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:200]
        raise ApiUnavailable(f"The recommender API at {api_url()} answered {exc.code} to {path}: {detail}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ApiUnavailable(
            f"The recommender API is not reachable at {api_url()} ({reason}). "
            "Start it with `shop serve api` (or set SHOP_API_URL to where it runs), then reload."
        ) from exc
    except json.JSONDecodeError as exc:
        raise ApiUnavailable(f"The recommender API at {api_url()} sent something that is not JSON for {path}.") from exc


def _items(payload: Any) -> list[RecommendedItem]:
    items = payload if isinstance(payload, list) else payload.get("items", [])
    return [
        RecommendedItem(
            product_id=int(item["product_id"]),
            name=str(item.get("name", "")),
            category=str(item.get("category", "")),
            price=None if item.get("price") is None else float(item["price"]),
            score=float(item.get("score") or 0),
            reason=str(item.get("reason", "")),
        )
        for item in items
    ]


def recommendations(user_id: int, k: int = 10) -> Recommendations:
    payload = _get(f"/recommendations/{int(user_id)}?k={int(k)}")
    try:
        return Recommendations(
            user_id=int(payload["user_id"]),
            strategy=str(payload.get("strategy", "")),
            variant=payload.get("variant"),
            items=_items(payload),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ApiUnavailable(f"The recommender API sent an unexpected answer for user {user_id}: {exc!r}") from exc


def similar_products(product_id: int, k: int = 10) -> list[RecommendedItem]:
    payload = _get(f"/products/{int(product_id)}/similar?k={int(k)}")
    try:
        return _items(payload)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ApiUnavailable(f"The recommender API sent an unexpected answer for product {product_id}: {exc!r}") from exc


@dataclass(frozen=True)
class ServedModel:
    """GET /model: the model `current` points at (None before the first `shop train`) and each A/B variant."""

    model_id: str | None
    card: dict[str, Any] | None
    variants: list[dict[str, Any]]


def served_model() -> ServedModel:
    payload = _get("/model")
    try:
        card = payload["card"]
        variants = payload["variants"]
        if not (card is None or isinstance(card, dict)) or not isinstance(variants, list):
            raise TypeError("card must be an object or null, variants a list")
        return ServedModel(model_id=payload["model_id"], card=card, variants=[dict(v) for v in variants])
    except (KeyError, TypeError, ValueError) as exc:
        raise ApiUnavailable(f"The recommender API sent an unexpected answer for /model: {exc!r}") from exc
