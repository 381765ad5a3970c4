"""Shared fixtures: one real PostgreSQL for the whole session.

By default that is the embedded server under a temporary SHOP_HOME; when SHOP_DATABASE_URL is set,
a fresh database is created on that server for the session and dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from shopcore import db as shop_db
from shopcore import embedded
from shopcore.settings import Settings
from tests.spark import background as spark_background
from tests.spark.availability import spark_missing_reason
from tests.support import TestDatabase, create_database, drop_database, private_home

TESTS_ROOT = Path(__file__).resolve().parent


# Test packages whose conftest builds session-wide shops or servers: each runs whole on one worker.
# (tests/warehouse shares only an empty database, and each of its modules builds its own shop: its
# modules go to either worker, so the suite does not end on one worker running all of them.)
PACKAGES_WITH_SHARED_SHOPS = {"api", "app"}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the markers into the test ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `pytest -n N --dist loadgroup` (make test), a test module runs whole on one worker (its
    module-scoped fixtures are built once), and so does a package whose conftest builds shops for
    the whole session (built once, not once per worker). Smaller groups elsewhere keep the workers
    evenly busy. Without xdist the marker does nothing."""
    for item in items:
        parts = Path(item.path).resolve().relative_to(TESTS_ROOT).parts
        group = parts[0] if parts[0] in PACKAGES_WITH_SHARED_SHOPS else "/".join(parts)
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook starts the workers
def pytest_sessionstart(session: pytest.Session) -> None:
    """Under pytest-xdist, the controller starts the Spark parity test's build in the background
    before the workers exist, and tells them where it is (tests/spark/background.py says why)."""
    config = session.config
    if not config.pluginmanager.has_plugin("dsession") or not _selects_the_parity_test(config):
        return
    if spark_missing_reason():
        return
    build = config.stash[spark_background.BUILD_KEY] = spark_background.start()
    os.environ[spark_background.WORKDIR_ENV] = str(build.workdir)  # the workers inherit it


def pytest_unconfigure(config: pytest.Config) -> None:
    build = config.stash.get(spark_background.BUILD_KEY, None)
    if build is not None:
        build.stop()


def _selects_the_parity_test(config: pytest.Config) -> bool:
    """Whether the command line runs the parity test, judged from its arguments alone (an xdist
    controller collects nothing): no -k, -m or --deselect, and a path that holds the test."""
    option = config.option
    if option.keyword or option.markexpr or option.deselect or option.collectonly or getattr(option, "lf", False):
        return False
    parity_file = TESTS_ROOT / "spark" / "test_spark_parity.py"
    for arg in config.args:
        path, _, within = arg.partition("::")
        for base in (config.invocation_params.dir, config.rootpath):
            resolved = (base / path).resolve()
            if resolved.exists():
                break
        if within:
            if resolved == parity_file and within.split("::")[0].split("[")[0] == spark_background.PARITY_TEST:
                return True
        elif resolved == parity_file or parity_file.is_relative_to(resolved):
            return True
    return False


@pytest.fixture(scope="session")
def shop_home() -> Iterator[Path]:
    home = private_home()
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def database(shop_home: Path) -> Iterator[TestDatabase]:
    external = os.environ.get("SHOP_DATABASE_URL")
    if external:
        server = shop_db.parse_database_url(external)
        name = f"shop_test_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        info = shop_db.ConnectionInfo(server.host, server.port, server.user, name, server.password)
        env = {"SHOP_HOME": str(shop_home), "SHOP_DATABASE_URL": info.url()}
        shop_db.ready(Settings(home=shop_home, database_url=info.url()))
        yield TestDatabase(info, env)
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))
        return
    settings = Settings(home=shop_home, database_url=None)
    info = shop_db.ready(settings)
    env = {"SHOP_HOME": str(shop_home), "SHOP_DATABASE_URL": ""}
    yield TestDatabase(info, env)
    embedded.stop(shop_home)


@pytest.fixture()
def fresh_database(database: TestDatabase) -> Iterator[TestDatabase]:
    """An empty, migrated database of its own on the session's server, for tests that write."""
    fresh = create_database(database, "shop_t")
    yield fresh
    drop_database(database, fresh)
