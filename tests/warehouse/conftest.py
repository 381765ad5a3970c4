"""Fixtures of the warehouse (dbt) tests.

`warehouse_env` is the only place that knows how to get a database: a fresh one per test session,
with the raw schema migrated, given as the libpq environment (PG*) that dbt's profile reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from shopcore.migrate import apply_migrations
from tests.warehouse.support import conninfo


@pytest.fixture(scope="session")
def server_env(database) -> dict[str, str]:
    """The session's PostgreSQL server (tests/conftest.py: embedded, or SHOP_DATABASE_URL's server)."""
    return dict(database.info.env())


@pytest.fixture(scope="session")
def warehouse_env(server_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A fresh database for this test session, raw schema migrated; its PG* environment."""
    name = f"warehouse_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(conninfo(server_env), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    env = {**server_env, "PGDATABASE": name}
    with psycopg.connect(conninfo(env)) as conn:
        apply_migrations(conn)
    try:
        yield env
    finally:
        with psycopg.connect(conninfo(server_env), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="session")
def dbt_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stands for SHOP_HOME: dbt's profiles.yml, target/ and logs/ of the test session."""
    return tmp_path_factory.mktemp("shop-home")


@pytest.fixture()
def connect(warehouse_env: dict[str, str]):
    def _connect(**kwargs) -> psycopg.Connection:
        return psycopg.connect(conninfo(warehouse_env), **kwargs)

    return _connect
