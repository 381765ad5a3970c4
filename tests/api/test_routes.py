"""Every read route over real HTTP against a running server and a real database."""

from __future__ import annotations

import pytest

from tests.api.support import ApiServer, Shop, wait_until


def known_user(shop: Shop) -> int:
    """A user with some history (a few products, not half the catalogue)."""
    return shop.query("select user_id from marts.user_item_interactions group by user_id "
                      "having count(*) between 3 and 12 order by count(*) desc, user_id limit 1")[0][0]


def test_live_is_trivial(server: ApiServer) -> None:
    response = server.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_model_and_database_are_there(server: ApiServer) -> None:
    body = server.get("/health/ready").json()
    assert body["status"] == "ready", body
    assert set(body["checks"]) == {"database", "model", "products", "warehouse"}
    assert all(check["ok"] for check in body["checks"].values())


def test_known_user_gets_personalised_products(server: ApiServer, shop: Shop) -> None:
    user_id = known_user(shop)
    response = server.get(f"/recommendations/{user_id}", params={"k": 7})
    assert response.status_code == 200
    body = response.json()
    assert body["strategy"] == "personalised"
    assert body["variant"] == "default"
    assert body["model_id"] == server.get("/model").json()["model_id"]
    assert len(body["items"]) == 7
    assert len({item["product_id"] for item in body["items"]}) == 7
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    names = dict(shop.query("select product_id, product_name from marts.products"))
    for item in body["items"]:
        assert item["name"] == names[item["product_id"]]
        assert item["category"] and item["price"] > 0 and item["reason"]
    reasons = [item["reason"] for item in server.get(f"/recommendations/{user_id}", params={"k": 40}).json()["items"]]
    assert all(r.startswith(("because you", "you looked at this", "buy it again", "popular in")) for r in reasons)
    assert any(r.startswith("because you") for r in reasons), reasons


def test_unknown_user_gets_popular_products(server: ApiServer, shop: Shop) -> None:
    response = server.get("/recommendations/987654321", params={"k": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["strategy"] == "popular"
    assert len(body["items"]) == 5
    assert all(item["reason"].startswith("popular in ") for item in body["items"])
    popular = server.get("/products/popular", params={"k": 5}).json()
    assert [i["product_id"] for i in body["items"]] == [i["product_id"] for i in popular["items"]]


def test_default_k_is_ten_and_bounds_are_enforced(server: ApiServer, shop: Shop) -> None:
    user_id = known_user(shop)
    assert len(server.get(f"/recommendations/{user_id}").json()["items"]) == 10
    assert len(server.get(f"/recommendations/{user_id}", params={"k": 1}).json()["items"]) == 1
    assert len(server.get(f"/recommendations/{user_id}", params={"k": 100}).json()["items"]) == 80  # the catalogue
    for bad in ("0", "101", "-3", "ten", "1.5"):
        response = server.get(f"/recommendations/{user_id}", params={"k": bad})
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["detail"][0]["loc"] == ["query", "k"]


@pytest.mark.parametrize("user", ["abc", "0", "-1", "1.5", str(2**63)])
def test_bad_user_id_is_422(server: ApiServer, user: str) -> None:
    response = server.get(f"/recommendations/{user}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "user_id"]


def test_popular_by_category(server: ApiServer, shop: Shop) -> None:
    category = shop.query("select category from marts.products group by category order by count(*) desc limit 1")[0][0]
    body = server.get("/products/popular", params={"k": 4, "category": category}).json()
    assert body["strategy"] == "popular"
    assert len(body["items"]) == 4
    assert {item["category"] for item in body["items"]} == {category}
    missing = server.get("/products/popular", params={"category": "no such thing"})
    assert missing.status_code == 404
    assert "unknown category" in missing.json()["detail"] and category in missing.json()["detail"]


def test_similar_products(server: ApiServer, shop: Shop) -> None:
    product_id = shop.query("select product_id from marts.user_item_interactions group by product_id "
                            "order by count(*) desc limit 1")[0][0]
    body = server.get(f"/products/{product_id}/similar", params={"k": 5}).json()
    assert body["strategy"] == "similar"
    assert body["product"]["product_id"] == product_id
    assert len(body["items"]) == 5
    assert product_id not in {item["product_id"] for item in body["items"]}
    assert all(item["reason"] == f"similar to {body['product']['name']}" for item in body["items"])
    missing = server.get("/products/999999999/similar")
    assert missing.status_code == 404
    assert "not in the catalogue" in missing.json()["detail"]


def test_model_card(server: ApiServer, shop: Shop) -> None:
    body = server.get("/model").json()
    current = (shop.models_dir / "current").read_text().strip()
    assert body["model_id"] == current
    card = body["card"]
    for field in ("algorithm", "parameters", "data", "metrics", "trained_at"):
        assert field in card
    assert card["data"]["watermark"]
    assert body["variants"] == [{**body["variants"][0], "variant": "default", "source": "current", "weight": 1}]


def test_metrics_are_prometheus_text(server: ApiServer) -> None:
    server.get("/health/live")
    response = server.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'shop_api_requests_total{method="GET",route="/health/live",status="200"}' in response.text
    assert "shop_api_request_duration_seconds_bucket" in response.text
    assert "shop_api_database_up 1.0" in response.text


def test_openapi_documents_every_route_with_a_response_model(server: ApiServer) -> None:
    schema = server.get("/openapi.json").json()
    expected = {"/recommendations/{user_id}", "/products/popular", "/products/{product_id}/similar", "/events",
                "/products/{product_id}", "/products", "/users/{user_id}",
                "/health/live", "/health/ready", "/model", "/metrics"}
    assert set(schema["paths"]) == expected
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            ok = next(code for code in operation["responses"] if code.startswith("2"))
            content = operation["responses"][ok]["content"]
            assert content, (method, path)
    assert server.get("/docs").status_code == 200


def test_served_recommendations_are_logged(server: ApiServer, shop: Shop) -> None:
    user_id = known_user(shop)
    body = server.get(f"/recommendations/{user_id}", params={"k": 3}).json()

    def logged():
        return shop.query("select user_id, variant, model_id, strategy, product_ids from raw.served_recommendations "
                          "where request_id = %s", (body["request_id"],))

    rows = wait_until(logged, message="the served recommendation in raw.served_recommendations")
    assert rows == [(user_id, "default", body["model_id"], "personalised",
                     [item["product_id"] for item in body["items"]])]
