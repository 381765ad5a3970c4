"""A stale warehouse degrades readiness, it does not take the API down: /health/ready answers 200
"degraded" and names the sources past their thresholds (from the kept `dbt source freshness` result)."""

from __future__ import annotations

import json
from pathlib import Path

from shopcore import dbt_artifacts
from tests.api.support import Shop, serving_home, wait_until


def write_sources(home: Path, statuses: dict[str, str]) -> None:
    """sources.json as `dbt source freshness` writes it (the fields the readers use)."""
    path = dbt_artifacts.last_freshness_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    results = [
        {"unique_id": f"source.shop.shop.{table}", "status": status, "max_loaded_at": "2026-01-01T00:00:00+00:00",
         "snapshotted_at": "2026-01-02T00:00:00+00:00", "max_loaded_at_time_ago_in_s": 86400.0,
         "criteria": {"warn_after": {"count": 1, "period": "day"}, "error_after": {"count": 7, "period": "day"}}}
        for table, status in statuses.items()
    ]
    path.write_text(json.dumps({"metadata": {"generated_at": "2026-01-02T00:00:00Z"}, "results": results}))


def test_a_stale_source_makes_readiness_degraded_not_down(start_server, shop: Shop, tmp_path: Path) -> None:
    home = serving_home(shop, tmp_path / "home")
    write_sources(home, {"interactions": "warn", "users": "pass", "products": "error"})
    server = start_server(SHOP_HOME=str(home), SHOP_DATABASE_URL=shop.info.url())

    ready = server.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    warehouse = ready.json()["checks"]["warehouse"]
    assert warehouse == {"ok": True, "detail": "stale: raw.interactions warn, raw.products error"}
    assert server.get("/recommendations/1").status_code == 200  # still serving

    write_sources(home, {"interactions": "pass", "users": "pass", "products": "pass"})
    wait_until(lambda: server.get("/health/ready").json()["status"] == "ready", message="fresh sources to be seen")
    assert server.get("/health/ready").json()["checks"]["warehouse"]["detail"] == "3 sources fresh"
