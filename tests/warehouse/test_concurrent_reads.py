"""Readers never fail while the warehouse rebuilds: the dashboard and the API query the marts from
their own connections while `shop build` runs again and again (incremental and full refresh)."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from . import synthetic
from .support import build_ok, conninfo, drop_warehouse

pytestmark = pytest.mark.slow

SIZE = synthetic.ShopSize(events=6_000, users=150, products=40, days=12, chunks=3)
# The readers read marts, which data tests never write: the builds run models only.
MODELS_ONLY = ["resource_type:test", "resource_type:unit_test"]

QUERIES = (
    "select count(*), coalesce(sum(revenue), 0) from marts.sales_summary",
    "select count(*), coalesce(sum(feedback_score), 0) from marts.user_item_interactions",
    "select product_id, feedback_score from marts.user_item_interactions where user_id = 7 order by 2 desc limit 10",
)


def test_marts_stay_readable_during_builds(warehouse_env, dbt_home) -> None:
    """Readers never fail, and never see an empty or half-built mart: every answer a reader gets is the
    answer the same query gives after one of the builds (each model's data commits at once)."""
    drop_warehouse(warehouse_env)
    with psycopg.connect(conninfo(warehouse_env)) as conn:
        synthetic.create_shop(conn, SIZE)
        synthetic.load_chunk(conn, SIZE, 0)
    build_ok(warehouse_env, dbt_home, exclude=MODELS_ONLY)

    stop = threading.Event()
    errors: list[str] = []
    seen: list[tuple[int, tuple]] = []  # (query number, its rows)
    committed: list[set[tuple]] = [set() for _ in QUERIES]  # each query's answer after each build

    def answers(conn: psycopg.Connection) -> list[tuple]:
        return [tuple(conn.execute(query).fetchall()) for query in QUERIES]

    def record_committed() -> None:
        with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
            for number, rows in enumerate(answers(conn)):
                committed[number].add(rows)

    def reader() -> None:
        with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
            while not stop.is_set():
                for number, query in enumerate(QUERIES):
                    try:
                        seen.append((number, tuple(conn.execute(query).fetchall())))
                    except psycopg.Error as exc:  # any failure is the bug this test looks for
                        errors.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.005)

    record_committed()
    threads = [threading.Thread(target=reader, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        # Each load is built while the readers read: the first incrementally, the last by a full
        # refresh; then one more incremental build, which follows a full refresh.
        for chunk in range(1, SIZE.chunks):
            with psycopg.connect(conninfo(warehouse_env)) as conn:
                synthetic.load_chunk(conn, SIZE, chunk)
            build_ok(warehouse_env, dbt_home, full_refresh=chunk == SIZE.chunks - 1, exclude=MODELS_ONLY)
            record_committed()
        build_ok(warehouse_env, dbt_home, exclude=MODELS_ONLY)
        record_committed()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    assert not errors, errors[:5]
    assert len(seen) > 50
    assert len(committed[0]) == SIZE.chunks  # each load changed the marts: the readers saw builds happen
    empty = [(number, rows) for number, rows in seen if number < 2 and rows[0][0] == 0]
    assert not empty, empty[:3]
    half_built = [(QUERIES[number], rows) for number, rows in seen if rows not in committed[number]]
    assert not half_built, half_built[:3]
