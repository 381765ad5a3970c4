"""Shops that look nothing like the simulator, end to end: import, build, train (or a clear refusal
naming what is missing), the API answering with the model or with popularity, and every dashboard
page rendering without an exception or an error box.

Each shape is a small file in an import format, a database of its own on the session's server, one
warehouse build (in process, as `shop build` runs it, without dbt's unit tests: they read fixed
inputs, not the shop) and one API process.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import streamlit as st

from importer.service import run_import
from recommender.evaluation import NotEnoughHistory
from recommender.training import TrainOptions, train_and_save
from shop import dbt_runner
from shopcore.errors import ShopError
from tests.api.support import ApiServer
from tests.app.test_pages import PAGES, open_cleanly
from tests.support import TestDatabase, create_database, drop_database, private_home

from . import files

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Shape:
    name: str
    write: Callable[[Path], list[Path]]
    evaluates: bool  # whether its history supports an evaluation
    refusal: str = ""  # what the refused evaluation's message names


SHAPES = [
    Shape("one category, no brands, one price",
          lambda d: [files.odd_rees46(d / "one.csv", users=30, days=70, events_per_user=4, visits=3, categories=1,
                                      brands=False, price="9.99")], evaluates=True),
    Shape("visitors who come once",
          lambda d: [files.odd_rees46(d / "once.csv", users=60, days=70, events_per_user=3)],
          evaluates=False, refusal="no user both has history and carts or buys"),
    # Windows sized by the data (recommender/windows.py) evaluate a week as they do years.
    Shape("one week of history",
          lambda d: [files.odd_rees46(d / "week.csv", users=30, days=7, events_per_user=5, visits=3)],
          evaluates=True),
    Shape("two years, sparse",
          lambda d: [files.odd_rees46(d / "years.csv", users=25, days=730, events_per_user=4, visits=3)],
          evaluates=True),
    Shape("purchases only (shopify-orders)",
          lambda d: [files.shopify_orders(d / "orders_export.csv", orders=40, customers=8, days=90)],
          evaluates=True),
    Shape("a 50,000-product catalogue, few events",
          lambda d: [files.big_catalogue(d / "products.csv", 50_000),
                     files.odd_rees46(d / "events.csv", users=20, days=30, events_per_user=4, visits=3)],
          evaluates=True),
]


@pytest.fixture()
def odd_shop(database: TestDatabase, tmp_path: Path):
    shop_database = create_database(database, "shop_odd")
    home = private_home("shop-odd-")
    yield shop_database, home
    drop_database(database, shop_database)
    shutil.rmtree(home, ignore_errors=True)


def train(shop: TestDatabase, home: Path, shape: Shape) -> tuple[str | None, str]:
    """`shop train` as its service runs it: evaluated first; when the history cannot support that,
    the refusal's message and a training without one. Returns (refusal or None, algorithm)."""
    refusal = None
    try:
        outcome = train_and_save(shop.info, home, TrainOptions())
    except ShopError as exc:
        refusal = str(exc)
        outcome = train_and_save(shop.info, home, TrainOptions(evaluate=False))
    return refusal, outcome.algorithm


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_an_odd_shop_imports_builds_trains_and_is_served(odd_shop, tmp_path: Path, shape: Shape,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    shop, home = odd_shop
    imported = run_import(shop.info, shape.write(tmp_path), home=home)
    assert imported.committed and imported.events_new > 0 and not imported.rejected, imported
    built = dbt_runner.build(shop.info.env(), home=home, exclude=["test_type:unit"])
    assert built.success, (built.failing_names, built.exception)

    refusal, algorithm = train(shop, home, shape)
    if shape.evaluates:
        assert refusal is None, refusal
    else:
        assert refusal is not None and shape.refusal in refusal and "--no-evaluate" in refusal, refusal
    assert algorithm

    with shop.connect() as conn:
        (products,) = conn.execute("select count(*) from marts.products").fetchone()
        user_id, items = conn.execute("select user_id, count(*) from marts.user_item_interactions "
                                      "group by user_id order by count(*) desc, user_id limit 1").fetchone()
    server = ApiServer({**shop.env, "SHOP_HOME": str(home)}, tmp_path / "api.log")
    try:
        assert server.get("/health/ready").json()["checks"]["products"]["detail"] == f"{products} products loaded"
        known = server.get(f"/recommendations/{user_id}?k=10").json()
        assert known["strategy"] == "personalised" and known["items"], known
        stranger = server.get("/recommendations/123456789012?k=10").json()
        assert stranger["strategy"] == "popular" and stranger["items"], stranger
        for item in known["items"] + stranger["items"]:
            assert "None" not in item["reason"] and "unknown" not in item["reason"], item
        for key, value in {**shop.env, "SHOP_HOME": str(home), "SHOP_API_URL": server.url}.items():
            monkeypatch.setenv(key, value)
        st.cache_data.clear()
        for page in PAGES:
            assert open_cleanly(page).title[0].value == PAGES[page]
    finally:
        server.stop()
    if shape.name.startswith("one category"):
        assert stranger["items"][0]["brand"] is None and stranger["items"][0]["price"] == 9.99
    if shape.name.startswith("a 50,000"):
        assert products == 50_000
