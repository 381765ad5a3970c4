"""A broken `current` pointer is reported, not hidden: the API serves the newest complete model
and says so in /model and /health/ready (degraded, with the reason); what it says has no paths."""

from __future__ import annotations

import shutil
from pathlib import Path

from recommender import artifacts
from tests.api.support import Shop, wait_until


def assert_no_home(text: str, home: Path) -> None:
    assert str(home) not in text and str(home.resolve()) not in text, text


def test_a_broken_current_pointer_is_reported_as_degraded(start_server, shop: Shop, tmp_path: Path) -> None:
    home = tmp_path / "home"
    models = home / "models"
    models.mkdir(parents=True)
    served = artifacts.current_path(shop.models_dir)
    shutil.copytree(served, models / served.name)
    (models / artifacts.CURRENT).write_text("20991231T000000000000Z-hybrid-gone00\n")
    server = start_server(SHOP_HOME=str(home), SHOP_DATABASE_URL=shop.info.url())

    body = server.get("/model").json()
    assert body["model_id"] == served.name
    error = body["variants"][0]["error"]
    assert error == ("`current` names 20991231T000000000000Z-hybrid-gone00, which is missing or not a complete "
                     f"model; serving the newest complete model, {served.name}, instead"), error
    ready = server.get("/health/ready")
    assert ready.status_code == 200  # it serves: degraded, not down
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["model"]["ok"] is True
    assert error in ready.json()["checks"]["model"]["detail"]
    assert "`current` names 20991231T000000000000Z-hybrid-gone00" in server.log()  # said once in the log too
    for text in (ready.text, server.get("/model").text):
        assert_no_home(text, home)

    artifacts.set_current(models, served.name)  # repaired: nothing to report any more
    wait_until(lambda: server.get("/health/ready").json()["status"] == "ready", message="the repair to be seen")
    assert server.get("/model").json()["variants"][0]["error"] is None


def test_without_a_model_readiness_says_so_without_paths(start_server, shop: Shop, tmp_path: Path) -> None:
    """No model yet (a new shop, or one whose history cannot train one): the API serves popularity,
    so it is ready to take traffic, degraded, and says why."""
    home = tmp_path / "empty-home"
    (home / "models").mkdir(parents=True)
    server = start_server(SHOP_HOME=str(home), SHOP_DATABASE_URL=shop.info.url())
    ready = server.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["model"]["detail"] == ("No trained model in SHOP_HOME/models. Run `shop train` first. "
                                                         "Serving popularity until a model loads.")
    assert server.get("/recommendations/12345").json()["strategy"] == "popular"
    assert_no_home(ready.text, home)
    assert_no_home(server.get("/model").text, home)
