"""The live integration: PUT /products/{id}, POST /products and PUT /users/{id} (raw.products /
raw.users upserts behind the API key), the catalogue following them at once on the worker that took
the write and within a poll on the others, users created by their first event, and events for
unknown products refused."""

from __future__ import annotations

import uuid

import pytest

from shopcore.events import normalise_event_type

from tests.api.support import ApiServer, Shop, new_user, untouched_users, view, wait_until

KEY = "live-s3cret"


@pytest.fixture(scope="module")
def keyed(start_server) -> ApiServer:
    return start_server(SHOP_API_KEY=KEY)


def auth() -> dict[str, str]:
    return {"X-API-Key": KEY}


def new_product_id(shop: Shop) -> int:
    return shop.query("select coalesce(max(product_id) filter (where product_id < 1e12), 0) + 1000 "
                      "+ (random() * 1e6)::int8 from raw.products")[0][0]


def product_row(shop: Shop, product_id: int) -> tuple | None:
    rows = shop.query("select name, category, brand, price::float8, active, updated_at from raw.products "
                      "where product_id = %s", (product_id,))
    return rows[0] if rows else None


def ids(items: list[dict]) -> list[int]:
    return [i["product_id"] for i in items]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PUT", "/products/{pid}", {"name": "Nope"}),
    ("POST", "/products", [{"product_id": "{pid}", "name": "Nope"}]),
    ("PUT", "/users/{uid}", {"country": "DE"}),
])
def test_write_routes_need_the_key(keyed: ApiServer, shop: Shop, method: str, path: str, body) -> None:
    pid, uid = new_product_id(shop), new_user(shop) + 7_000_000
    url = path.format(pid=pid, uid=uid)
    if isinstance(body, list):
        body = [{**b, "product_id": pid} for b in body]
    missing = keyed.client.request(method, url, json=body)
    assert missing.status_code == 401, missing.text
    assert "X-API-Key" in missing.json()["detail"]
    wrong = keyed.client.request(method, url, json=body, headers={"X-API-Key": "guess"})
    assert wrong.status_code == 403, wrong.text
    assert "does not match" in wrong.json()["detail"]
    assert product_row(shop, pid) is None
    assert shop.query("select count(*) from raw.users where user_id = %s", (uid,))[0][0] == 0


def test_a_new_product_is_served_at_once(keyed: ApiServer, shop: Shop) -> None:
    pid = new_product_id(shop)
    category = shop.query("select category from marts.products group by category order by count(*) desc limit 1")[0][0]
    response = keyed.client.put(f"/products/{pid}", headers=auth(), json={
        "name": "  Live Teapot ", "category": category, "brand": "Acme", "price": 12.5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["created"] is True and body["active"] is True and body["price"] == 12.5
    name, cat, brand, price, active, _ = product_row(shop, pid)
    assert (name, cat, brand, price, active) == ("  Live Teapot ", category, "Acme", 12.5, True)
    try:
        similar = keyed.get(f"/products/{pid}/similar")  # a product the model does not know
        assert similar.status_code == 200, similar.text
        # the warehouse's normalisation (staging), not the raw text
        assert similar.json()["product"] == {"product_id": pid, "name": "Live Teapot", "category": category,
                                             "brand": "Acme", "price": 12.5}
        # the model has not seen it: its similar list is its category's popular products
        assert similar.json()["strategy"] == "popular_in_category"
    finally:
        keyed.client.put(f"/products/{pid}", headers=auth(), json={"active": False})


def test_an_update_keeps_omitted_fields_and_moves_updated_at(keyed: ApiServer, shop: Shop) -> None:
    pid = new_product_id(shop)
    assert keyed.client.put(f"/products/{pid}", headers=auth(), json={
        "name": "Mug", "category": "kitchen", "brand": "Acme", "price": 3, "active": False}).status_code == 200
    before = product_row(shop, pid)
    again = keyed.client.put(f"/products/{pid}", headers=auth(), json={"price": "4.25", "brand": None})
    assert again.status_code == 200 and again.json()["created"] is False
    after = product_row(shop, pid)
    assert after[:5] == ("Mug", "kitchen", None, 4.25, False)
    assert after[5] > before[5]


def test_a_price_change_shows_in_the_next_answer(keyed: ApiServer, shop: Shop) -> None:
    user_id = untouched_users(shop, 1, min_items=3)[0]
    first = keyed.get(f"/recommendations/{user_id}").json()
    assert first["strategy"] == "personalised"
    item = first["items"][0]
    new_price = round(item["price"] + 7.77, 2)
    old_price = shop.query("select price from raw.products where product_id = %s", (item["product_id"],))[0][0]
    try:
        response = keyed.client.put(f"/products/{item['product_id']}", headers=auth(), json={"price": new_price})
        assert response.status_code == 200, response.text
        after = keyed.get(f"/recommendations/{user_id}").json()
        prices = {i["product_id"]: i["price"] for i in after["items"]}
        assert prices[item["product_id"]] == new_price
        assert keyed.get(f"/products/{item['product_id']}/similar").json()["product"]["price"] == new_price
    finally:
        keyed.client.put(f"/products/{item['product_id']}", headers=auth(), json={"price": str(old_price)})


def test_a_batch_upserts_all_or_nothing(keyed: ApiServer, shop: Shop) -> None:
    a, b = new_product_id(shop), new_product_id(shop) + 1
    bad = keyed.post("/products", headers=auth(), json=[{"product_id": a, "name": "A"},
                                                          {"product_id": b, "price": -1}])
    assert bad.status_code == 422
    assert any(e["loc"] == ["body", 1, "price"] for e in bad.json()["detail"]), bad.text
    assert product_row(shop, a) is None
    twice = keyed.post("/products", headers=auth(), json=[{"product_id": a, "name": "first", "active": False},
                                                          {"product_id": a, "name": "second"}])
    assert twice.status_code == 200, twice.text
    assert [p["created"] for p in twice.json()["products"]] == [True, False]
    assert product_row(shop, a)[:5] == ("second", None, None, None, False)
    ok = keyed.post("/products", headers=auth(), json=[{"product_id": a, "name": "A"},
                                                         {"product_id": b, "name": "B", "active": False}])
    assert ok.status_code == 200, ok.text
    assert ok.json()["upserted"] == 2 and ok.json()["created"] == 1
    assert product_row(shop, a)[0] == "A" and product_row(shop, b)[0] == "B"


def test_a_batch_over_the_limit_is_413(start_server, shop: Shop) -> None:
    server = start_server(SHOP_API_MAX_BATCH="3")
    products = [{"product_id": new_product_id(shop) + i} for i in range(4)]
    response = server.post("/products", json=products)
    assert response.status_code == 413 and "at most 3" in response.json()["detail"]
    schema = server.get("/openapi.json").json()
    assert "413" in schema["paths"]["/products"]["post"]["responses"]
    assert "413" in schema["paths"]["/events"]["post"]["responses"]


def test_deactivation_removes_a_product_everywhere_at_once(keyed: ApiServer, shop: Shop) -> None:
    user_id = untouched_users(shop, 1, min_items=3)[0]
    recommended = ids(keyed.get(f"/recommendations/{user_id}").json()["items"])
    popular = ids(keyed.get("/products/popular", params={"k": 100}).json()["items"])
    # a product in the user's list that is also popular and similar to another
    pid = next(p for p in recommended if p in popular)
    anchor = next(p for p in popular if p != pid and pid in ids(keyed.get(f"/products/{p}/similar",
                                                                             params={"k": 100}).json()["items"]))
    try:
        assert keyed.client.put(f"/products/{pid}", headers=auth(), json={"active": False}).status_code == 200
        assert pid not in ids(keyed.get(f"/recommendations/{user_id}").json()["items"])
        assert pid not in ids(keyed.get("/products/popular", params={"k": 100}).json()["items"])
        assert pid not in ids(keyed.get(f"/products/{anchor}/similar", params={"k": 100}).json()["items"])
        assert keyed.get(f"/products/{pid}/similar").status_code == 404
        assert product_row(shop, pid)[4] is False
    finally:
        assert keyed.client.put(f"/products/{pid}", headers=auth(), json={"active": True}).status_code == 200
    # back, in its place
    assert pid in ids(keyed.get(f"/recommendations/{user_id}").json()["items"])
    assert ids(keyed.get("/products/popular", params={"k": 100}).json()["items"]) == popular


@pytest.mark.slow
def test_deactivation_reaches_the_other_worker(start_server, shop: Shop) -> None:
    server = start_server(workers=2)
    popular = ids(server.get("/products/popular", params={"k": 100}).json()["items"])
    pid = popular[1]
    try:
        assert server.client.put(f"/products/{pid}", json={"active": False}).status_code == 200

        def every_answer_lacks_it() -> bool:
            answers = [ids(server.get("/products/popular", params={"k": 100}).json()["items"]) for _ in range(8)]
            return all(pid not in a for a in answers)

        wait_until(every_answer_lacks_it, timeout=30, message="both workers to drop the product")
    finally:
        assert server.client.put(f"/products/{pid}", json={"active": True}).status_code == 200
    wait_until(lambda: all(ids(server.get("/products/popular", params={"k": 100}).json()["items"]) == popular
                           for _ in range(8)), timeout=30, message="both workers to list it again")


def test_an_event_creates_a_user_the_shop_has_not_seen(server: ApiServer, shop: Shop) -> None:
    user_id = new_user(shop) + 5_000_000
    product_id = shop.query("select product_id from marts.products order by product_id limit 1")[0][0]
    first, later = "2026-01-02T03:04:05+00:00", "2026-01-03T00:00:00+00:00"
    response = server.post("/events", json=[view(user_id, product_id, occurred_at=later),
                                            view(user_id, product_id, occurred_at=first)])
    assert response.status_code == 201, response.text
    rows = shop.query("select email, full_name, country, channel, signup_at from raw.users where user_id = %s",
                      (user_id,))
    assert len(rows) == 1
    assert rows[0][:4] == (None, None, None, None)
    assert rows[0][4].isoformat() == first
    # a known user is left alone by their events
    assert server.post("/events", json=view(user_id, product_id)).status_code == 201
    assert shop.query("select signup_at from raw.users where user_id = %s", (user_id,))[0][0] == rows[0][4]
    assert server.get(f"/recommendations/{user_id}").json()["fresh_events"] == 3


def test_an_event_for_an_unknown_product_is_refused_naming_it(server: ApiServer, shop: Shop) -> None:
    user_id = new_user(shop) + 6_000_000
    product_id = shop.query("select product_id from marts.products order by product_id limit 1")[0][0]
    missing = [new_product_id(shop) + 100_000_000, new_product_id(shop) + 200_000_000]
    good = view(user_id, product_id, event_id=str(uuid.uuid4()))
    response = server.post("/events", json=[good, view(user_id, missing[0]), view(user_id, missing[1])])
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert [(e["loc"], e["input"]) for e in detail if e["type"] == "unknown_product"] == [
        (["body", 1, "product_id"], missing[0]), (["body", 2, "product_id"], missing[1])]
    assert all(str(m) in response.text for m in missing)
    assert shop.query("select count(*) from raw.interactions where event_id = %s", (good["event_id"],))[0][0] == 0
    assert shop.query("select count(*) from raw.users where user_id = %s", (user_id,))[0][0] == 0


def test_put_user_creates_and_updates(keyed: ApiServer, shop: Shop) -> None:
    user_id = new_user(shop) + 8_000_000
    created = keyed.client.put(f"/users/{user_id}", headers=auth(), json={
        "email": "a@example.com", "country": "FR", "signup_at": "2025-05-01T10:00:00Z"})
    assert created.status_code == 200, created.text
    assert created.json()["created"] is True
    updated = keyed.client.put(f"/users/{user_id}", headers=auth(), json={"full_name": "Ada", "email": None})
    assert updated.status_code == 200 and updated.json()["created"] is False
    row = shop.query("select email, full_name, country, channel, signup_at::text from raw.users where user_id = %s",
                     (user_id,))[0]
    assert row == (None, "Ada", "FR", None, "2025-05-01 10:00:00+00")
    for bad, loc in [({"country": "fr"}, "country"), ({"signup_at": 0}, "signup_at"),
                     ({"signup_at": "2025-05-01T10:00:00"}, "signup_at"), ({"nickname": "x"}, "nickname")]:
        refused = keyed.client.put(f"/users/{user_id}", headers=auth(), json=bad)
        assert refused.status_code == 422, refused.text
        assert any(e["loc"][-1] == loc for e in refused.json()["detail"]), refused.text


def test_event_type_pattern_is_what_the_server_accepts(server: ApiServer, shop: Shop) -> None:
    import re

    pattern = server.get("/openapi.json").json()["components"]["schemas"]["EventIn"]["properties"][
        "event_type"]["pattern"]
    user_id = new_user(shop)
    product_id = shop.query("select product_id from marts.products order by product_id limit 1")[0][0]
    for spelling in ["view", " Add to-Cart ", "PAGEVIEW", "order", "\tview", "view\n", "add__to_cart", "likes",
                     "Cart", "page view"]:
        extra = {"order_id": str(uuid.uuid4())} if normalise_event_type(spelling) == "purchase" else {}
        status = server.post("/events", json=view(user_id, product_id, spelling, **extra)).status_code
        assert (status == 201) == bool(re.fullmatch(pattern.strip("^$"), spelling)), spelling
