"""Helpers of the warehouse tests: reach the test database, drop the warehouse, build and insist on success."""

from __future__ import annotations

from pathlib import Path

import psycopg

from shop import dbt_runner

WAREHOUSE_SCHEMAS = ("staging", "intermediate", "marts", "snapshots", "monitoring")


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


def drop_warehouse(env: dict[str, str]) -> None:
    """Remove every dbt-built schema and the record of past builds, so the next build starts from
    nothing (a build mark left behind would scope the next build's data tests to rows loaded after it)."""
    with psycopg.connect(conninfo(env), autocommit=True) as conn:
        for schema in WAREHOUSE_SCHEMAS:
            conn.execute(f"drop schema if exists {schema} cascade")
        conn.execute("truncate shop_meta.warehouse_builds")


def build_ok(env: dict[str, str], home: Path, **kwargs) -> dbt_runner.DbtResult:
    """`shop build`'s engine; fails the test with the failing nodes and dbt's errors."""
    result = dbt_runner.build(env, home=home, **kwargs)
    assert result.success, (
        f"dbt build failed: {result.failing_names} {result.exception or ''}\n" + "\n".join(result.errors[-20:])
    )
    return result


def build_synthetic_shop(env: dict[str, str], home: Path, size) -> dbt_runner.DbtResult:
    """A warehouse from nothing over a synthetic shop of `size` (tests/warehouse/synthetic.py), every
    chunk loaded: the built shop a test module shares."""
    from . import synthetic

    drop_warehouse(env)
    with psycopg.connect(conninfo(env)) as conn:
        synthetic.create_shop(conn, size)
        synthetic.load_chunk(conn, size, size.chunks - 1, upto=True)
    return build_ok(env, home, full_refresh=True)
