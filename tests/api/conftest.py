"""Fixtures of the API tests: a shop of their own and real servers over real HTTP.

The API tests get their own SHOP_HOME with its own embedded PostgreSQL (so that the outage test
can stop and restart it without disturbing anyone), a small simulated shop, the warehouse built
by dbt, and a model trained by the engine. ``ApiServer`` runs `python -m recommender.api` (the
same code as `shop serve api`) on a free 127.0.0.1 port.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shop import dbt_runner
from shopcore import db as shop_db
from shopcore import embedded
from shopcore.settings import Settings
from tests.api.support import ApiServer, Shop
from tests.support import run_shop


@pytest.fixture(scope="session")
def shop() -> Iterator[Shop]:
    # Not under pytest's basetemp: the embedded server runs as another user when we are root, and
    # a concurrent pytest session may tighten the permissions of /tmp/pytest-of-<user>.
    home = Path(tempfile.mkdtemp(prefix="shop-api-test-"))
    settings = Settings(home=home, database_url=None)
    env = {"SHOP_HOME": str(home), "SHOP_DATABASE_URL": ""}
    run_shop("simulate", "--users", "400", "--products", "80", "--days", "40", "--seed", "7", env=env)
    info = shop_db.ready(settings)
    # Without dbt's unit tests: they read fixed inputs, not this shop (tests/warehouse runs them).
    result = dbt_runner.build(info.env(), home=home, exclude=["test_type:unit"])
    assert result.success, f"dbt build failed: {result.failing_names}\n" + "\n".join(result.errors[-20:])
    s = Shop(home, info)
    s.train("hybrid")
    s.ready_at = s.query("select now()")[0][0]
    try:
        yield s
    finally:
        embedded.stop(home)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def server_pool(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., ApiServer]]:
    """Starts servers over the shop; every server still running stops at the end of the session."""
    servers: list[ApiServer] = []

    def start(workers: int = 1, **env: str) -> ApiServer:
        log = tmp_path_factory.mktemp("api-log") / "server.log"
        server = ApiServer({**shop.env, **env}, log, workers=workers)
        servers.append(server)
        return server

    start.servers = servers  # type: ignore[attr-defined]  (the outage test waits for each to recover)
    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def start_server(server_pool: Callable[..., ApiServer]) -> Iterator[Callable[..., ApiServer]]:
    """Servers of one test module (its own settings); they stop when the module's tests are done, so
    idle servers polling the database do not pile up over the session."""
    started: list[ApiServer] = []

    def start(workers: int = 1, **env: str) -> ApiServer:
        server = server_pool(workers=workers, **env)
        started.append(server)
        return server

    start.servers = server_pool.servers  # type: ignore[attr-defined]
    yield start
    for server in started:
        server.stop()
        server_pool.servers.remove(server)


@pytest.fixture(scope="session")
def server(server_pool: Callable[..., ApiServer]) -> ApiServer:
    """The shared server: the shop's model, no API key, one variant."""
    return server_pool()
