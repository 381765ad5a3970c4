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

from shop import dbt_runner
from shopcore.migrate import apply_migrations

WAREHOUSE_SCHEMAS = ("staging", "intermediate", "marts")


def conninfo(env: dict[str, str], **overrides: str) -> str:
    params = {
        "host": env["PGHOST"],
        "port": env.get("PGPORT", "5432"),
        "user": env["PGUSER"],
        "dbname": env["PGDATABASE"],
    }
    if env.get("PGPASSWORD"):
        params["password"] = env["PGPASSWORD"]
    params.update(overrides)
    return " ".join(f"{key}={value}" for key, value in params.items())


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


def drop_warehouse(env: dict[str, str]) -> None:
    """Remove every dbt-built schema, so the next build starts from nothing."""
    with psycopg.connect(conninfo(env), autocommit=True) as conn:
        for schema in WAREHOUSE_SCHEMAS:
            conn.execute(f"drop schema if exists {schema} cascade")


def build_ok(env: dict[str, str], home: Path, **kwargs) -> dbt_runner.DbtResult:
    """`shop build`'s engine; fails the test with the failing nodes and dbt's errors."""
    result = dbt_runner.build(env, home=home, **kwargs)
    assert result.success, (
        f"dbt build failed: {result.failing_names} {result.exception or ''}\n" + "\n".join(result.errors[-20:])
    )
    return result
