"""Fixtures of the dashboard tests: a small simulated shop with its warehouse built, once per session.

`built_shop` is a database of its own on the session's server: `shop simulate` (60 days ending now)
then `dbt build` (dbt_runner, as `shop build` does), with dbt's target under a SHOP_HOME of its own
so that the Data health page reads this build's run_results.json. `point_app_at` sets the
environment the dashboard reads its settings from (as in production) for one test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest

from shop import dbt_runner
from tests.api.support import ApiServer
from tests.app.planted_alerts import Planted, plant
from tests.support import TestDatabase, create_database, drop_database, run_shop

# Accounts, not regulars: most visitors come once, so 4,000 accounts give the pages about as many
# events as 400 loyal users gave before visitor lifecycles.
SHOP_SIZE = ("--users", "4000", "--products", "80", "--days", "60", "--seed", "7")
CLOSED_API_URL = "http://127.0.0.1:9"  # the discard port: nothing answers HTTP there


@dataclass(frozen=True)
class Shop:
    database: TestDatabase
    home: Path  # SHOP_HOME: dbt's target/run_results.json of the build
    planted: list[Planted] = field(default_factory=list)  # anomalies planted in its raw tables
    build: dbt_runner.DbtResult | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"SHOP_DATABASE_URL": self.database.info.url(), "SHOP_HOME": str(self.home)}

    def rows(self, query: str, params: tuple | dict = ()) -> list[tuple]:
        with self.database.connect() as conn:
            return conn.execute(query, params).fetchall()

    def one(self, query: str, params: tuple | dict = ()) -> tuple:
        return self.rows(query, params)[0]


@pytest.fixture(scope="session")
def built_shop(database: TestDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    shop_database = create_database(database, "shop_app")
    home = tmp_path_factory.mktemp("app-shop-home")
    run_shop("simulate", *SHOP_SIZE, env={**shop_database.env, "SHOP_HOME": str(home)})
    result = dbt_runner.build(shop_database.info.env(), home=home)
    assert result.success, f"dbt build failed: {result.failing_names} {result.exception or ''}"
    yield Shop(shop_database, home)
    drop_database(database, shop_database)


# Seven weeks (the checks' baselines need four), enough accounts for a few dozen orders a day.
ALERTING_SHOP_SIZE = ("--users", "6000", "--products", "80", "--days", "49", "--seed", "8")
ALERTING_SHOP_END = datetime(2026, 11, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def alerting_shop(database: TestDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """A shop ending at a fixed midnight (ALERTING_SHOP_END) with one anomaly of each kind planted in
    its last three weeks (tests/app/planted_alerts.py), its warehouse built (the Overview reads the
    marts). The checks judge against the data's own clock, so a fixed end gives the same shop, and the
    same alerts, on every day the suite runs."""
    shop_database = create_database(database, "shop_alerts")
    home = tmp_path_factory.mktemp("alerts-shop-home")
    end = ALERTING_SHOP_END
    run_shop("simulate", *ALERTING_SHOP_SIZE, "--end", end.isoformat(),
             env={**shop_database.env, "SHOP_HOME": str(home)})
    with shop_database.connect() as conn:
        planted = plant(conn, end)
    # Without dbt's unit tests: they read fixed inputs, not this shop (built_shop's build runs them).
    result = dbt_runner.build(shop_database.info.env(), home=home, exclude=["test_type:unit"])
    assert result.success, f"dbt build failed: {result.failing_names} {result.exception or ''}"
    yield Shop(shop_database, home, planted, result)
    drop_database(database, shop_database)


@pytest.fixture(scope="session")
def unbuilt_shop(database: TestDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """A migrated database with no warehouse: what a new install looks like before `shop build`."""
    shop_database = create_database(database, "shop_app_unbuilt")
    yield Shop(shop_database, tmp_path_factory.mktemp("app-unbuilt-home"))
    drop_database(database, shop_database)


@pytest.fixture(scope="session")
def empty_shop(database: TestDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """The warehouse built over empty raw tables: every mart exists and holds no row."""
    shop_database = create_database(database, "shop_app_empty")
    home = tmp_path_factory.mktemp("app-empty-home")
    result = dbt_runner.run_dbt(["run"], shop_database.info.env(), home=home)
    assert result.success, f"dbt run failed: {result.failing_names} {result.exception or ''}"
    yield Shop(shop_database, home)
    drop_database(database, shop_database)


@pytest.fixture()
def point_app_at(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set the dashboard's environment (database, SHOP_HOME, API URL) for this test."""

    def point(shop: Shop | None = None, *, api_url: str = CLOSED_API_URL, **env: str) -> None:
        values = {**(shop.env if shop else {}), "SHOP_API_URL": api_url, **env}
        for key, value in values.items():
            monkeypatch.setenv(key, value)

    return point


@pytest.fixture(scope="session")
def served_api(built_shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The real recommendation API over the built shop, with a model `shop train` made (evaluated first)."""
    run_shop("train", env=built_shop.env, timeout=600)
    server = ApiServer(built_shop.env, tmp_path_factory.mktemp("app-api") / "api.log")
    try:
        yield server
    finally:
        server.stop()
