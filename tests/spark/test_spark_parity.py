"""The same dbt project on Apache Spark: a Spark build equals the PostgreSQL build of the same data.

One small shop is simulated twice with the same parameters: as Parquet files for the `spark`
target and into a fresh PostgreSQL database. Spark receives the events in two loads (the second
with late arrivals for days it has already built, and redeliveries) and builds incrementally; PostgreSQL
builds once from all the events. Every intermediate table and every mart must then hold the same
rows on both engines, up to float rounding: the incremental rule holds on Spark, and no model means
something else there.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from shop import dbt_runner
from tests.support import REPO_ROOT, run_shop
from tests.spark.loads import split_into_two_loads, replace_raw_interactions
from tests.spark.tables import postgres_tables, table_differences

pytestmark = [pytest.mark.slow, pytest.mark.spark]

SHOP = ("--users", "300", "--products", "80", "--days", "20", "--seed", "7", "--end", "2025-11-30T00:00")
SECOND_LOAD_FROM = datetime(2025, 11, 26, tzinfo=timezone.utc)
SCHEMAS = ("intermediate", "marts")
MARTS = {
    "customers", "daily_category_funnel", "interaction_events", "order_lines", "orders", "product_daily_performance",
    "products", "recommendation_variant_daily", "sales_summary", "signup_cohorts", "source_freshness",
    "user_item_interactions",
}


def build_on_spark(tmp_path: Path, raw: Path, late: Path) -> tuple[dict, dict]:
    """tests/spark/spark_build.py in a process of its own: (exported tables, timings)."""
    export = tmp_path / "spark-tables.pickle"
    command = [
        sys.executable, "-m", "tests.spark.spark_build",
        "--home", str(tmp_path / "spark-home"), "--raw", str(raw), "--late", str(late), "--export", str(export),
    ]
    done = subprocess.run(
        command, cwd=REPO_ROOT, env={**os.environ, "TZ": "UTC"}, capture_output=True, text=True, timeout=1400
    )
    assert done.returncode == 0, f"Spark build failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    with open(export, "rb") as handle:
        tables = pickle.load(handle)
    return tables, json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(1500)  # a loaded CI machine; about 3 minutes on 2 idle cores
def test_every_table_built_on_spark_equals_the_postgresql_build(spark_available, fresh_database, tmp_path):
    raw, late = tmp_path / "raw", tmp_path / "late"
    run_shop("simulate", *SHOP, "--format", "parquet", "--out", str(raw), env=fresh_database.env)
    run_shop("simulate", *SHOP, env=fresh_database.env)
    first, second = split_into_two_loads(raw, late, SECOND_LOAD_FROM)
    second_ids = set(second.column("event_id").to_pylist())
    assert first.num_rows > 1000 and second.num_rows > 500
    assert second_ids & set(first.column("event_id").to_pylist()), "the second load redelivers events"
    late_days = {t.date() for t in second.column("occurred_at").to_pylist() if t < SECOND_LOAD_FROM}
    assert len(late_days) > 5, "the second load re-touches days the first build saw"
    conninfo = fresh_database.info.conninfo()
    assert replace_raw_interactions(conninfo, [first, second]) == first.num_rows + second.num_rows

    spark_tables, timings = build_on_spark(tmp_path, raw, late)
    postgres = dbt_runner.run_dbt(["run"], fresh_database.info.env(), home=tmp_path / "postgres-home")
    assert postgres.success, postgres.failing_names or postgres.exception
    print(f"\nbuild times, {first.num_rows + second.num_rows} events: spark {timings}, postgres run {postgres.elapsed:.1f}s")
    postgres_rows = postgres_tables(conninfo, SCHEMAS)

    assert sorted(spark_tables) == sorted(postgres_rows)
    assert MARTS <= {name.split(".")[1] for name in postgres_rows}
    differences = {
        name: problems
        for name, rows in postgres_rows.items()
        if (problems := table_differences(rows, spark_tables[name]))
    }
    assert not differences, json.dumps(differences, indent=1, default=str)
    # Not an empty comparison: every table has rows, except the variants' mart (a simulated history
    # serves no recommendations).
    empty = {name for name, rows in postgres_rows.items() if not rows}
    assert empty <= {"marts.recommendation_variant_daily"}
