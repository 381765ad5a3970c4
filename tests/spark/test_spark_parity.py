"""The same dbt project on Apache Spark: a Spark build equals the PostgreSQL build of the same data.

One small shop is simulated twice with the same parameters: as Parquet files for the `spark`
target and into a fresh PostgreSQL database. Spark receives the events in two loads (the second
with late arrivals for days it has already built, and redeliveries) and builds incrementally; PostgreSQL
builds once from all the events. Every intermediate table and every mart must then hold the same
rows on both engines, up to float rounding: the incremental rule holds on Spark, and no model means
something else there.

The Spark side starts as the session begins, in the background at the lowest CPU priority
(tests/spark/background.py), and this test collects it.
"""

from __future__ import annotations

import json

import pytest

from shop import dbt_runner
from tests.support import run_shop
from tests.spark.background import SECOND_LOAD_FROM, SHOP
from tests.spark.loads import replace_raw_interactions
from tests.spark.tables import postgres_tables, table_differences

pytestmark = [pytest.mark.slow, pytest.mark.spark]

SCHEMAS = ("intermediate", "marts")
MARTS = {
    "customers", "daily_category_funnel", "interaction_events", "order_lines", "orders", "product_daily_performance",
    "products", "recommendation_user_days", "recommendation_variant_daily", "sales_summary", "signup_cohorts", "source_freshness",
    "user_item_interactions",
}


@pytest.mark.timeout(1500)  # a loaded CI machine; about 3 minutes on 2 idle cores
def test_every_table_built_on_spark_equals_the_postgresql_build(spark_build, fresh_database, tmp_path):
    run_shop("simulate", *SHOP, env=fresh_database.env)
    first, second = spark_build.loads(timeout=600)
    second_ids = set(second.column("event_id").to_pylist())
    assert first.num_rows > 1000 and second.num_rows > 500
    assert second_ids & set(first.column("event_id").to_pylist()), "the second load redelivers events"
    late_days = {t.date() for t in second.column("occurred_at").to_pylist() if t < SECOND_LOAD_FROM}
    assert len(late_days) > 5, "the second load re-touches days the first build saw"
    conninfo = fresh_database.info.conninfo()
    assert replace_raw_interactions(conninfo, [first, second]) == first.num_rows + second.num_rows

    spark_tables, timings = spark_build.result(timeout=1400)
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
    assert empty <= {"marts.recommendation_user_days", "marts.recommendation_variant_daily"}
