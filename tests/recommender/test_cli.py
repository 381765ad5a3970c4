"""`shop train` and `shop evaluate` end to end on a database whose marts hold a planted shop.

The commands are run as their own Typer apps in a subprocess, with the same error handling as
`shop` (shop.cli.main), so these tests do not depend on how the commands are registered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recommender import artifacts
from tests.recommender.planted import planted_shop
from tests.recommender.warehouse import create_marts
from tests.support import REPO_ROOT

pytestmark = pytest.mark.slow

RUNNER = """
import sys, typer
from rich.console import Console
from shopcore.errors import ShopError
from shop.cli.{module} import {module}
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command()({module})
try:
    app(sys.argv[1:])
except ShopError as exc:
    Console(stderr=True).print(f"error: {{exc}}")
    sys.exit(1)
"""


def run(module: str, *args: str, env: dict[str, str], home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", RUNNER.format(module=module), *args],
        env={**os.environ, "COLUMNS": "200", **env, "SHOP_HOME": str(home), "OPENBLAS_NUM_THREADS": "1"},
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
    )


@pytest.fixture()
def shop_db(fresh_database):
    shop = planted_shop(users=150, items=60, days=70, consumable_share=0.4, seed=9)
    with fresh_database.connect() as conn:
        create_marts(conn, shop.events, shop.catalogue)
    return fresh_database


def test_evaluate_json_lists_every_algorithm(shop_db, tmp_path: Path) -> None:
    result = run("evaluate", "--json", "--threads", "1", env=shop_db.env, home=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    names = [r["algorithm"] for r in rows]
    assert names == ["popularity", "buy_again", "user_knn", "item_knn", "als", "ease", "hybrid", "ranker"]
    keys = {"algorithm", "precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10", "coverage", "train_seconds"}
    for row in rows:
        assert keys <= set(row)
        assert 0 <= row["ndcg_at_10"] <= 1 and 0 < row["coverage"] <= 1
    table = run("evaluate", "--threads", "1", "-a", "popularity", "-a", "hybrid", env=shop_db.env, home=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "NDCG@10" in table.stdout and "hybrid" in table.stdout and "item_knn" not in table.stdout


def test_train_saves_a_current_model(shop_db, tmp_path: Path) -> None:
    result = run("train", "--threads", "1", env=shop_db.env, home=tmp_path)
    assert result.returncode == 0, result.stderr
    model = artifacts.load_current(tmp_path / "models")
    card = model.card
    assert card["metrics"]["test"]["ndcg"] > 0 and card["metrics"]["k"] == 10
    assert card["data"]["watermark"] and card["trained_at"]
    assert model.recommend(1, k=5) and model.popular(3)
    again = run("train", "--algorithm", "item_knn", "--no-evaluate", env=shop_db.env, home=tmp_path)
    assert again.returncode == 0, again.stderr
    assert artifacts.load_current(tmp_path / "models").card["algorithm"] == "item_knn"
    assert len(artifacts.good_models(tmp_path / "models")) == 2


def test_train_on_an_empty_warehouse_says_what_to_do(fresh_database, tmp_path: Path) -> None:
    result = run("train", env=fresh_database.env, home=tmp_path)
    assert result.returncode == 1
    assert "shop simulate" in result.stderr and "shop build" in result.stderr
    assert not (tmp_path / "models").exists()


def test_evaluate_says_its_protocol_windows_and_choice_and_refuses_odd_windows(shop_db, tmp_path: Path) -> None:
    temporal = run("evaluate", "--threads", "1", "-a", "popularity", "-a", "item_knn", env=shop_db.env, home=tmp_path)
    assert temporal.returncode == 0, temporal.stderr
    assert "Protocol temporal (validation " in temporal.stdout and "of the events)" in temporal.stdout
    assert "95% interval" in temporal.stdout
    # 150 users cannot fill windows of 200: they widened as far as they go, and the table says so.
    assert "validation 30%, test 30%" in temporal.stdout and "fewer than 200" in temporal.stdout
    # Nor is there a window before validation to tune on: tuned on validation, and a warning says so.
    assert "Warning: parameters were selected on validation itself" in temporal.stdout
    assert "R@10 re-buy" in temporal.stdout and "chosen:" in temporal.stdout
    baskets = run("evaluate", "--threads", "1", "--protocol", "last-basket", "--json", "-a", "buy_again",
                  env=shop_db.env, home=tmp_path)
    assert baskets.returncode == 0, baskets.stderr
    rows = json.loads(baskets.stdout)
    assert rows[0]["chosen"] and rows[0]["ndcg_at_10_low"] <= rows[0]["ndcg_at_10"] <= rows[0]["ndcg_at_10_high"]
    for args, complaint in ((["--test-days", "7"], "both --test-days and --validation-days"),
                            (["--protocol", "last-basket", "--test-days", "7", "--validation-days", "7"],
                             "temporal only"),
                            (["--protocol", "newest"], "newest")):
        refused = run("evaluate", *args, env=shop_db.env, home=tmp_path)
        assert refused.returncode == 2 and complaint in refused.stderr, refused.stderr


def test_train_records_why_its_model_won(shop_db, tmp_path: Path) -> None:
    result = run("train", "--threads", "1", env=shop_db.env, home=tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = artifacts.load_current(tmp_path / "models").card["metrics"]
    choice = metrics["choice"]
    assert choice["algorithm"] == artifacts.load_current(tmp_path / "models").card["algorithm"]
    assert choice["reason"] in result.stdout.replace("\n", " ") or choice["reason"][:60] in result.stdout
    assert metrics["protocol"] == "temporal" and metrics["test_users"] > 0
    assert metrics["windows"]["tuned_on"].startswith("validation (")
    assert [w for w in metrics["warnings"] if w.startswith("parameters were selected on validation itself")]
