"""Fixtures of the dashboard tests: a small simulated shop with its warehouse built, once per session.

`built_shop` is a database of its own on the session's server: `shop simulate` (60 days ending now)
then `dbt build` (dbt_runner, as `shop build` does), with dbt's target under a SHOP_HOME of its own
so that the Data health page reads this build's run_results.json. `point_app_at` sets the
environment the dashboard reads its settings from (as in production) for one test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from shop import dbt_runner
from shopcore import db as shop_db
from shopcore.settings import Settings
from tests.support import TestDatabase, run_shop

SHOP_SIZE = ("--users", "400", "--products", "80", "--days", "60", "--seed", "7")
CLOSED_API_URL = "http://127.0.0.1:9"  # the discard port: nothing answers HTTP there


@dataclass(frozen=True)
class Shop:
    database: TestDatabase
    home: Path  # SHOP_HOME: dbt's target/run_results.json of the build

    @property
    def env(self) -> dict[str, str]:
        return {"SHOP_DATABASE_URL": self.database.info.url(), "SHOP_HOME": str(self.home)}

    def rows(self, query: str, params: tuple | dict = ()) -> list[tuple]:
        with self.database.connect() as conn:
            return conn.execute(query, params).fetchall()

    def one(self, query: str, params: tuple | dict = ()) -> tuple:
        return self.rows(query, params)[0]


def _create_database(server: TestDatabase, prefix: str) -> TestDatabase:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server.info.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    info = shop_db.ConnectionInfo(server.info.host, server.info.port, server.info.user, name, server.info.password)
    shop_db.ready(Settings(home=Path(server.env["SHOP_HOME"]), database_url=info.url()))
    return TestDatabase(info, {**server.env, "SHOP_DATABASE_URL": info.url()})


def _drop_database(server: TestDatabase, database: TestDatabase) -> None:
    with psycopg.connect(server.info.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database.info.dbname)))


@pytest.fixture(scope="session")
def built_shop(database: TestDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    shop_database = _create_database(database, "shop_app")
    home = tmp_path_factory.mktemp("app-shop-home")
    run_shop("simulate", *SHOP_SIZE, env={**shop_database.env, "SHOP_HOME": str(home)})
    result = dbt_runner.build(shop_database.info.env(), home=home)
    assert result.success, f"dbt build failed: {result.failing_names} {result.exception or ''}"
    yield Shop(shop_database, home)
    _drop_database(database, shop_database)


@pytest.fixture(scope="session")
def unbuilt_shop(database: TestDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """A migrated database with no warehouse: what a new install looks like before `shop build`."""
    shop_database = _create_database(database, "shop_app_unbuilt")
    yield Shop(shop_database, tmp_path_factory.mktemp("app-unbuilt-home"))
    _drop_database(database, shop_database)


@pytest.fixture(scope="session")
def empty_shop(database: TestDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """The warehouse built over empty raw tables: every mart exists and holds no row."""
    shop_database = _create_database(database, "shop_app_empty")
    home = tmp_path_factory.mktemp("app-empty-home")
    result = dbt_runner.run_dbt(["run"], shop_database.info.env(), home=home)
    assert result.success, f"dbt run failed: {result.failing_names} {result.exception or ''}"
    yield Shop(shop_database, home)
    _drop_database(database, shop_database)


@pytest.fixture()
def point_app_at(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set the dashboard's environment (database, SHOP_HOME, API URL) for this test."""

    def point(shop: Shop | None = None, *, api_url: str = CLOSED_API_URL, **env: str) -> None:
        values = {**(shop.env if shop else {}), "SHOP_API_URL": api_url, **env}
        for key, value in values.items():
            monkeypatch.setenv(key, value)

    return point


class FakeApi:
    """A stand-in recommender API (the real one arrives later) serving canned answers over HTTP."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.model = {
            "algorithm": "als",
            "trained_at": "2026-11-20T06:00:00Z",
            "data_watermark": "2026-11-20T05:59:00Z",
            "parameters": {"factors": 64},
            "metrics": {"precision@10": 0.081, "recall@10": 0.143, "ndcg@10": 0.112},
        }

    def answer(self, path: str) -> tuple[int, object]:
        self.requests.append(path)
        if path.startswith("/recommendations/"):
            user_id = int(path.split("/")[2].split("?")[0])
            items = [
                {"product_id": 11, "name": "Trail Runner 2", "category": "sports", "price": 89.5, "score": 0.91,
                 "reason": "Because you viewed Trail Runner"},
                {"product_id": 12, "name": "Wool Socks", "category": "apparel", "price": 12.0, "score": 0.55,
                 "reason": "Often bought together"},
            ]
            return 200, {"user_id": user_id, "strategy": "als", "variant": "B", "items": items}
        if path.startswith("/products/") and "/similar" in path:
            return 200, {"product_id": int(path.split("/")[2]), "items": [
                {"product_id": 21, "name": "Similar Thing", "category": "sports", "price": 20.0, "score": 0.7,
                 "reason": "Viewed by the same users"}]}
        if path == "/model":
            return 200, self.model
        return 404, {"detail": "not found"}


@pytest.fixture()
def fake_api() -> Iterator[tuple[str, FakeApi]]:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    api = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            status, payload = api.answer(self.path)
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", api
    server.shutdown()
    server.server_close()
