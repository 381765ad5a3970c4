"""POST /events: validation, writing to raw.interactions, fold-in into the next recommendation,
and the API key."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.api.support import ApiServer, Shop, new_user, untouched_users, view, wait_until


def product_ids(shop: Shop, n: int = 3) -> list[int]:
    return [r[0] for r in shop.query("select product_id from marts.user_item_interactions group by product_id "
                                     "order by count(*) desc limit %s", (n,))]


def rows_of(shop: Shop, event_ids: list[str]) -> list[tuple]:
    return shop.query(
        "select event_id::text, user_id, product_id, event_type, quantity, unit_price::float8, order_id::text, "
        "recommendation_variant, loaded_at > occurred_at - interval '1 minute' "
        "from raw.interactions where event_id = any(%s::uuid[]) order by event_type", (event_ids,))


def test_one_event_is_written_and_normalised(server: ApiServer, shop: Shop) -> None:
    user_id, product_id = new_user(shop), product_ids(shop, 1)[0]
    response = server.post("/events", json=view(user_id, product_id, " Add To-Cart ", quantity=2,
                                                    recommendation_variant="default"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["accepted"] == 1
    list_price = shop.query("select price::float8 from raw.products where product_id = %s", (product_id,))[0][0]
    assert rows_of(shop, body["event_ids"]) == [
        (body["event_ids"][0], user_id, product_id, "add_to_cart", 2, list_price, None, "default", True)]


def test_a_batch_is_written_in_one_go(server: ApiServer, shop: Shop) -> None:
    user_id = new_user(shop)
    a, b = product_ids(shop, 2)
    order = str(uuid.uuid4())
    events = [view(user_id, a, event_id=str(uuid.uuid4())),
              view(user_id, b, "PURCHASE", order_id=order, unit_price="12.50", occurred_at="2025-01-02T03:04:05+01:00")]
    response = server.post("/events", json=events)
    assert response.status_code == 201, response.text
    assert response.json()["event_ids"] == [events[0]["event_id"], response.json()["event_ids"][1]]
    rows = rows_of(shop, response.json()["event_ids"])
    assert [(r[3], r[5], r[6]) for r in rows][1] == ("view", rows[1][5], None)
    assert rows[0][3:7] == ("purchase", 1, 12.5, order)
    occurred = shop.query("select occurred_at = timestamptz '2025-01-02T02:04:05Z' from raw.interactions "
                          "where event_id = %s", (response.json()["event_ids"][1],))
    assert occurred == [(True,)]


def errors_of(response) -> list[tuple[tuple, str]]:
    assert 400 <= response.status_code < 500, response.text
    detail = response.json()["detail"]
    if isinstance(detail, str):
        return [((), detail)]
    return [(tuple(e["loc"]), e["msg"]) for e in detail]


@pytest.mark.parametrize(("change", "loc", "words"), [
    ({"event_type": "like"}, ("body", "event_type"), "must be one of view, add_to_cart, purchase"),
    ({"quantity": -2}, ("body", "quantity"), "greater than or equal to 1"),
    ({"quantity": 0}, ("body", "quantity"), "greater than or equal to 1"),
    ({"quantity": "two"}, ("body", "quantity"), "valid integer"),
    ({"unit_price": 0}, ("body", "unit_price"), "greater than 0"),
    ({"unit_price": -5}, ("body", "unit_price"), "greater than 0"),
    ({"unit_price": "1.234"}, ("body", "unit_price"), "decimal places"),
    ({"user_id": "abc"}, ("body", "user_id"), "valid integer"),
    ({"user_id": -1}, ("body", "user_id"), "greater than or equal to 1"),
    ({"session_id": "not-a-uuid"}, ("body", "session_id"), "UUID"),
    ({"event_id": 42}, ("body", "event_id"), "UUID"),
    ({"occurred_at": "2020-01-01T00:00:00"}, ("body", "occurred_at"), "timezone"),
    ({"occurred_at": "2999-01-01T00:00:00Z"}, ("body", "occurred_at"), "in the future"),
    ({"loaded_at": "2020-01-01T00:00:00Z"}, ("body", "loaded_at"), "Extra inputs"),
    ({"event_type": "purchase"}, ("body", "order_id"), "a purchase needs an order_id"),
    ({"order_id": str(uuid.uuid4())}, ("body", "order_id"), "only purchases have an order_id"),
    ({"product_id": 9_000_000_000}, ("body", "product_id"), "does not exist"),
])
def test_bad_event_is_422_with_a_message(server: ApiServer, shop: Shop, change: dict, loc: tuple, words: str) -> None:
    event = {**view(new_user(shop), product_ids(shop, 1)[0]), **change}
    response = server.post("/events", json=event)
    assert response.status_code == 422, response.text
    errors = errors_of(response)
    assert any(l == loc and words.lower() in m.lower() for l, m in errors), errors


def test_nothing_of_a_bad_batch_is_written(server: ApiServer, shop: Shop) -> None:
    user_id, product_id = new_user(shop), product_ids(shop, 1)[0]
    good = view(user_id, product_id, event_id=str(uuid.uuid4()))
    response = server.post("/events", json=[good, view(user_id, product_id, "nope"), {"user_id": 1}])
    assert response.status_code == 422
    locs = [loc for loc, _ in errors_of(response)]
    assert ("body", 1, "event_type") in locs and ("body", 2, "session_id") in locs
    assert rows_of(shop, [good["event_id"]]) == []


@pytest.mark.parametrize(("body", "status", "words"), [
    (b"{not json", 422, "not valid JSON"),
    (b"", 422, "not valid JSON"),
    (b"NaN", 422, "not valid JSON"),
    (b"[]", 422, "empty"),
    (b"42", 422, "one event"),
    (b'"view"', 422, "one event"),
    (b"[1, 2]", 422, "valid dictionary"),
])
def test_malformed_bodies_are_4xx(server: ApiServer, body: bytes, status: int, words: str) -> None:
    response = server.post("/events", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert any(words.lower() in m.lower() for _, m in errors_of(response)), response.text


def test_oversized_batches_and_bodies_are_413(server: ApiServer, shop: Shop) -> None:
    event = view(new_user(shop), product_ids(shop, 1)[0])
    response = server.post("/events", json=[event] * 1001)
    assert response.status_code == 413
    assert "at most 1000" in response.json()["detail"]
    huge = json.dumps([{**event, "recommendation_variant": "x" * 60}] * 40_000).encode()
    response = server.post("/events", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "limit" in response.json()["detail"] or "larger than" in response.json()["detail"]


def test_non_json_content_type_is_415(server: ApiServer) -> None:
    response = server.post("/events", content=b"user_id=1", headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


def test_a_new_users_events_change_the_next_recommendation(server: ApiServer, shop: Shop) -> None:
    user_id = new_user(shop)
    before = server.get(f"/recommendations/{user_id}").json()
    assert before["strategy"] == "popular" and before["fresh_events"] == 0
    product_id = product_ids(shop, 1)[0]
    name = shop.query("select product_name from marts.products where product_id = %s", (product_id,))[0][0]
    assert server.post("/events", json=view(user_id, product_id)).status_code == 201
    after = server.get(f"/recommendations/{user_id}", params={"k": 20}).json()
    assert after["strategy"] == "personalised"
    assert after["fresh_events"] == 1
    assert [i["product_id"] for i in after["items"]] != [i["product_id"] for i in before["items"]]
    assert any(item["reason"] == f"because you viewed {name}" for item in after["items"]), after["items"]


def test_a_known_users_new_events_are_folded_in(server: ApiServer, shop: Shop) -> None:
    user_id = untouched_users(shop, 1, min_items=2, max_items=6, most_active=False)[0]
    before = server.get(f"/recommendations/{user_id}", params={"k": 20}).json()
    assert before["strategy"] == "personalised" and before["fresh_events"] == 0
    seen = {r[0] for r in shop.query("select product_id from marts.user_item_interactions where user_id = %s",
                                     (user_id,))}
    # three products the user never touched, from the smallest category that has three of them
    # (the user picked depends on what other tests touched: their history may cover a small category)
    by_category = shop.query("select category, array_agg(product_id order by product_id) from marts.products "
                             "group by category order by count(*), category")
    others = next(unseen for _, products in by_category
                  if len(unseen := [p for p in products if p not in seen]) >= 3)
    events = [view(user_id, p, "add_to_cart") for p in others[:3]]
    assert server.post("/events", json=events).status_code == 201
    after = server.get(f"/recommendations/{user_id}", params={"k": 20}).json()
    assert after["fresh_events"] == 3
    assert after["items"] != before["items"]
    assert any(f"because you added" in item["reason"] for item in after["items"]), after["items"]


@pytest.mark.slow
def test_events_reach_other_workers_through_the_database(start_server, shop: Shop, tmp_path) -> None:
    """With two workers the event may be taken by one and the recommendation asked of the other:
    the other sees it once it has read raw.interactions (every SHOP_API_POLL_INTERVAL_S)."""
    scratch = tmp_path / "tmp"  # the server's temporary files, to see what it leaves behind
    scratch.mkdir()
    server = start_server(workers=2, TMPDIR=str(scratch))
    assert [p.name[:17] for p in scratch.iterdir()] == ["shop-api-metrics-"]  # the workers' metrics meet there
    user_id = new_user(shop)
    assert server.post("/events", json=view(user_id, product_ids(shop, 1)[0])).status_code == 201

    def every_answer_has_it():
        answers = [server.get(f"/recommendations/{user_id}").json() for _ in range(8)]
        return all(a["fresh_events"] == 1 and a["strategy"] == "personalised" for a in answers)

    wait_until(every_answer_has_it, timeout=30, message="both workers to fold in the event")
    metrics = server.get("/metrics").text
    assert "shop_api_events_accepted_total" in metrics
    server.stop()
    assert list(scratch.iterdir()) == []  # the metrics directory goes when serving ends


def test_api_key_is_required_when_set(start_server, shop: Shop) -> None:
    server = start_server(SHOP_API_KEY="s3cret-key")
    event = view(new_user(shop), product_ids(shop, 1)[0])
    missing = server.post("/events", json=event)
    assert missing.status_code == 401
    assert "X-API-Key" in missing.json()["detail"]
    wrong = server.post("/events", json=event, headers={"X-API-Key": "guess"})
    assert wrong.status_code == 403
    assert "does not match" in wrong.json()["detail"]
    right = server.post("/events", json=event, headers={"X-API-Key": "s3cret-key"})
    assert right.status_code == 201, right.text
    # Reads stay open: the storefront calls them on every page view.
    assert server.get(f"/recommendations/{event['user_id']}").status_code == 200
    schema = server.get("/openapi.json").json()
    assert "APIKeyHeader" in schema["components"]["securitySchemes"]
