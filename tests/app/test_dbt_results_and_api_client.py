"""Reading dbt's run_results.json, and the recommender API client against a fake and a closed port."""

from __future__ import annotations

import json

import pytest

from app import api_client, dbt_results
from app.errors import ApiUnavailable


def _result(unique_id: str, status: str, completed: str = "2026-11-23T10:00:05Z") -> dict:
    return {
        "unique_id": unique_id,
        "status": status,
        "execution_time": 0.5,
        "failures": 1 if status == "fail" else 0,
        "message": "Got 1 result" if status == "fail" else None,
        "timing": [{"name": "execute", "started_at": "2026-11-23T10:00:00Z", "completed_at": completed}],
    }


def test_run_results_summary(tmp_path):
    path = tmp_path / "run_results.json"
    path.write_text(json.dumps({
        "metadata": {"generated_at": "2026-11-23T10:00:09Z"},
        "elapsed_time": 9.5,
        "args": {"which": "build", "select": ["marts"]},
        "results": [
            _result("model.shop.sales_summary", "success"),
            _result("test.shop.unique_orders_order_id.abc", "pass"),
            _result("test.shop.not_null_orders_user_id.def", "fail"),
            _result("unit_test.shop.sales_summary.test_x", "pass"),
        ],
    }))
    summary = dbt_results.load(path)
    assert summary.command == "dbt build --select marts"
    assert summary.count("test") == 2 and summary.count("test", {"pass"}) == 1
    assert not summary.success
    assert summary.failed["name"].tolist() == ["not_null_orders_user_id"]
    assert summary.built_at("sales_summary").isoformat() == "2026-11-23T10:00:05+00:00"
    assert summary.built_at("orders") is None


def test_no_run_results_yet(tmp_path):
    assert dbt_results.load(tmp_path / "missing.json") is None


def test_api_client_reads_the_api(built_shop, served_api, monkeypatch):
    monkeypatch.setenv("SHOP_API_URL", served_api.url + "/")
    (user_id,) = built_shop.one("select min(user_id) from marts.customers where orders > 0")
    answer = api_client.recommendations(user_id, k=2)
    expected = served_api.get(f"/recommendations/{user_id}?k=2").json()
    assert answer.user_id == user_id and answer.variant == expected["variant"]
    assert [item.product_id for item in answer.items] == [item["product_id"] for item in expected["items"]]
    product_id = expected["items"][0]["product_id"]
    similar = served_api.get(f"/products/{product_id}/similar?k=10").json()["items"]
    assert [item.name for item in api_client.similar_products(product_id)] == [item["name"] for item in similar]
    served, model = api_client.served_model(), served_api.get("/model").json()
    assert served.model_id == model["model_id"] and served.model_id is not None
    assert served.card["algorithm"] == model["card"]["algorithm"]
    assert [variant["variant"] for variant in served.variants] == [variant["variant"] for variant in model["variants"]]


def test_api_client_says_how_to_start_an_api_that_is_down(monkeypatch):
    monkeypatch.setenv("SHOP_API_URL", "http://127.0.0.1:9")
    with pytest.raises(ApiUnavailable, match=r"not reachable at http://127.0.0.1:9 .*`shop serve api`"):
        api_client.recommendations(1)


def test_api_client_reports_an_error_answer(served_api, monkeypatch):
    monkeypatch.setenv("SHOP_API_URL", served_api.url)
    with pytest.raises(ApiUnavailable, match="answered 404"):
        api_client._get("/nowhere")

def test_results_path_is_the_last_builds_kept_copy(tmp_path):
    """`dbt docs generate` rewrites target/run_results.json; the page reads the build's kept copy."""
    from shopcore import dbt_artifacts

    assert dbt_results.results_path(tmp_path) == dbt_artifacts.last_build_results_path(tmp_path)
