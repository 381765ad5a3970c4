"""The whole warehouse builds and tests clean, with zero warnings, into its five schemas (staging,
intermediate, marts, snapshots for the products' history, and monitoring for the anomaly checks)."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, timedelta

import psycopg
import pytest
from psycopg import sql

from shop import dbt_runner, unit_test_gate
from shopcore import dbt_artifacts
from tests.support import run_shop

from . import synthetic
from .support import (
    WAREHOUSE_SCHEMAS,
    build_ok,
    build_synthetic_shop,
    conninfo,
    drop_warehouse,
)

pytestmark = pytest.mark.slow

SIZE = synthetic.ShopSize(events=8_000, users=200, products=40, days=20, chunks=4)


@pytest.fixture(scope="module")
def built(warehouse_env, dbt_home):
    return build_synthetic_shop(warehouse_env, dbt_home, SIZE)


def test_full_build_passes_with_zero_warnings(built: dbt_runner.DbtResult) -> None:
    assert built.warning_count == 0, built.warnings
    assert built.failing == []
    assert built.skipped == []
    # with the users joined to their totals, the RFM boundaries, the alerts' scored windows; 32 since the
    # users' totals are summed in int_users_joined_to_activity, not in a model of their own
    assert built.models == 32
    # 109 since `shop import` (migration 0008) dropped staging's not-nulls that imported shops break;
    # 70 since each model's row-level checks (and a whole-table key) are one column_checks node;
    # 60 since the monitoring tables, alerts, the time spine, the snapshot and the sources' keys too
    assert built.data_tests >= 60
    assert built.unit_tests >= 13


def _views(conn: psycopg.Connection) -> dict[str, tuple[int, str | None]]:
    """Each warehouse view: its oid (a new one when it was created again) and its comment."""
    rows = conn.execute(
        """
        select n.nspname || '.' || c.relname, c.oid::bigint, obj_description(c.oid, 'pg_class')
        from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
        where c.relkind = 'v' and n.nspname = any(%s)
        """,
        (list(WAREHOUSE_SCHEMAS),),
    ).fetchall()
    return {name: (oid, comment) for name, oid, comment in rows}


def test_incremental_build_after_full_build_is_clean_and_keeps_unchanged_views(built, warehouse_env, dbt_home) -> None:
    target = dbt_artifacts.target_dir(dbt_home)
    for artifact in ("run_results.json", "manifest.json"):
        (target / artifact).unlink(missing_ok=True)
    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        views = _views(conn)
        assert len(views) == 9 and all(comment.startswith("shop view definition ") for _, comment in views.values())
        # a definition that no longer matches its model's (as after an edit of the SQL) is created again
        conn.execute("comment on view staging.stg_shop__users is 'shop view definition of an older model'")
    again = build_ok(warehouse_env, dbt_home)
    with psycopg.connect(conninfo(warehouse_env)) as conn:
        views_after = _views(conn)
        events = conn.execute("select count(*) from marts.interaction_events").fetchone()[0]
    # the other views, whose definition did not change, are kept as they were, not created again
    assert views_after.keys() == views.keys()
    assert {name for name in views if views_after[name][0] != views[name][0]} == {"staging.stg_shop__users"}
    assert views_after["staging.stg_shop__users"][1] == views["staging.stg_shop__users"][1]
    assert events == SIZE.events
    assert again.warning_count == 0, again.warnings
    assert again.models == built.models
    # the code is what the full build's unit tests passed on: an incremental build does not re-run them
    assert built.unit_tests >= 13 and again.unit_tests == 0
    assert again.data_tests == built.data_tests
    # run_results.json is written for this build (the dashboard reads it); manifest.json is not
    results = json.loads((target / "run_results.json").read_text())
    assert results["args"]["which"] == "build"
    # what the Data health page reads to say the unit tests were skipped, not "0 / 0"
    assert "unit_test" in dbt_artifacts.read_run_results(target / "run_results.json").excluded_resource_types
    assert len(results["results"]) == len(again.nodes)
    assert dbt_artifacts.last_build_results_path(dbt_home).read_bytes() == (target / "run_results.json").read_bytes()
    assert not (target / "manifest.json").exists()


def test_models_land_in_their_schemas_only(built, warehouse_env) -> None:
    with psycopg.connect(conninfo(warehouse_env)) as conn:
        rows = conn.execute(
            """
            select table_schema, table_name from information_schema.tables
            where table_schema not in ('pg_catalog', 'information_schema', 'raw', 'truth', 'shop_meta', 'synthetic')
            """
        ).fetchall()
    schemas = {schema for schema, _ in rows}
    assert schemas == set(WAREHOUSE_SCHEMAS)
    assert {name for schema, name in rows if schema == "marts"} == {
        "sales_summary",
        "orders",
        "customers",
        "products",
        "product_daily_performance",
        "price_changes",
        "daily_category_funnel",
        "signup_cohorts",
        "user_item_interactions",
        "interaction_events",
        "order_lines",
        "source_freshness",
        "recommendation_user_days",
        "recommendation_variant_daily",
        "sessions",
        "metricflow_time_spine",
    }
    assert {name for schema, name in rows if schema == "snapshots"} == {"products_snapshot"}
    assert {name for schema, name in rows if schema == "monitoring"} == {
        "monitoring_events_hourly", "monitoring_category_hourly", "monitoring_loads_hourly",
        "monitoring_product_prices_daily", "alert_windows", "alerts",
    }


def test_rebuilt_tables_get_statistics_for_the_columns_their_readers_use(built, warehouse_env) -> None:
    with psycopg.connect(conninfo(warehouse_env)) as conn:
        analyzed = dict(conn.execute(
            """
            select tablename, array_agg(attname::text order by attname) from pg_stats
            where (schemaname, tablename) in (('intermediate', 'int_users_joined_to_activity'), ('marts', 'products'))
            group by tablename
            """
        ).fetchall())
        product_columns = conn.execute(
            "select count(*) from information_schema.columns where table_schema = 'marts' and table_name = 'products'"
        ).fetchone()[0]
        by_build, autoanalyzed = conn.execute(
            "select last_analyze is not null, last_autoanalyze is not null "
            "from pg_stat_user_tables where schemaname = 'intermediate' and relname = 'int_users_joined_to_activity'"
        ).fetchone()
    # meta.analyze_columns of the table behind the customers view: the build analyzes it itself, and
    # the readers' columns have statistics whoever analyzed last
    assert by_build
    assert {"last_seen_at", "orders", "user_id"} <= set(analyzed["int_users_joined_to_activity"])
    assert len(analyzed["products"]) == product_columns  # no list: every column
    if autoanalyzed:  # autovacuum's own analyze (every column) left its statistics beside the build's
        pytest.skip("autovacuum analyzed the users' table too: which columns the build analyzed "
                    "is no longer visible (the readers' columns were checked)")
    assert analyzed["int_users_joined_to_activity"] == ["last_seen_at", "orders", "user_id"]


def test_marts_hold_the_shop(built, warehouse_env) -> None:
    with psycopg.connect(conninfo(warehouse_env)) as conn:
        days, revenue = conn.execute("select count(*), sum(revenue) from marts.sales_summary").fetchone()
        staged = conn.execute(
            "select sum(quantity * unit_price) from staging.stg_shop__interactions where event_type = 'purchase'"
        ).fetchone()[0]
        events = conn.execute("select count(distinct event_id) from raw.interactions").fetchone()[0]
        enriched = conn.execute("select count(*) from intermediate.int_interactions_enriched").fetchone()[0]
        # the time spine: every day from 2000 to 2050 once, in any session time zone
        conn.execute("set time zone 'America/Sao_Paulo'")
        spine = conn.execute(
            "select count(*), count(distinct date_day), min(date_day), max(date_day) from marts.metricflow_time_spine"
        ).fetchone()
    assert days == SIZE.days
    assert revenue == staged and revenue > 0
    assert enriched == events == SIZE.events
    assert spine == ((date(2051, 1, 1) - date(2000, 1, 1)).days,) * 2 + (date(2000, 1, 1), date(2050, 12, 31))


def test_docs_generate_keeps_the_last_build_results(built, warehouse_env, dbt_home) -> None:
    kept = dbt_artifacts.last_build_results_path(dbt_home)
    assert kept == dbt_home.resolve() / "dbt" / "last_build" / "run_results.json"
    assert kept.is_file()
    before = kept.read_bytes()
    assert b'"build"' in before or b"build" in before

    result = dbt_runner.generate_docs(warehouse_env, home=dbt_home)
    assert result.success, result.exception
    assert (result.target_dir / "index.html").is_file()
    assert (result.target_dir / "catalog.json").is_file()
    # docs generate rewrote target/run_results.json, not the copy of the last build
    assert kept.read_bytes() == before
    assert (result.target_dir / "run_results.json").read_bytes() != before


def test_a_build_scopes_its_data_tests_to_rows_loaded_since_the_previous_build(built, warehouse_env, dbt_home) -> None:
    with psycopg.connect(conninfo(warehouse_env)) as conn:
        newest = conn.execute("select max(loaded_at) from raw.interactions").fetchone()[0]
        before = conn.execute("select count(*) from shop_meta.warehouse_builds").fetchone()[0]
        # Two redeliveries, loaded after every build so far: the next build must test the day of
        # the first, and of the second, an hour later and the newest load: it was loaded before the
        # build started, so the marts hold it and the reconciliation compares its day (it is within a
        # minute of the marts' newest load, which alone left such a batch's day out as unsettled).
        redeliver = """
            insert into raw.interactions (event_id, session_id, user_id, product_id, event_type, quantity,
                                          unit_price, order_id, recommendation_variant, occurred_at, loaded_at)
            select event_id, session_id, user_id, product_id, event_type, quantity, unit_price, order_id,
                   recommendation_variant, occurred_at, %s::timestamptz + %s * interval '1 hour'
            from raw.interactions order by occurred_at {} limit 1
            """
        conn.execute(redeliver.format("asc"), (newest, 1))
        conn.execute(redeliver.format("desc"), (newest, 2))
        day, newest_day = conn.execute(
            "select min(occurred_at at time zone 'UTC')::date, max(occurred_at at time zone 'UTC')::date"
            " from raw.interactions"
        ).fetchone()
        # and a day beyond every day the warehouse's statistics know, as `shop simulate --append`
        # brings: the newest day's events again a day later, as new events loaded an hour later
        conn.execute(
            """
            insert into raw.interactions (event_id, session_id, user_id, product_id, event_type, quantity,
                                          unit_price, order_id, recommendation_variant, occurred_at, loaded_at)
            select distinct on (event_id)
                   md5(event_id::text || 'next day')::uuid, md5(session_id::text || 'next day')::uuid, user_id,
                   product_id, event_type, quantity, unit_price, md5(order_id::text || 'next day')::uuid,
                   recommendation_variant, occurred_at + interval '1 day', %s::timestamptz + interval '1 hour'
            from raw.interactions
            where (occurred_at at time zone 'UTC')::date = %s
            order by event_id, loaded_at
            """,
            (newest, newest_day),
        )
    assert before >= 1  # the full build recorded where it started

    result = build_ok(warehouse_env, dbt_home)

    compiled = result.target_dir / "compiled" / "shop" / "dbt_project"
    reconcile = (compiled / "tests" / "assert_orders_and_sales_summary_reconcile_with_staging.sql").read_text()
    days = next(line for line in reconcile.splitlines() if "occurred_date in (" in line)
    # the redelivered events' days, plus those of rows loaded in the overlap before the last build
    assert f"cast('{day}' as date)" in days
    assert f"cast('{newest_day}' as date)" in days
    assert days.count("as date)") < SIZE.days / 2
    unique = next(compiled.rglob("unique_int_interactions_enriched_event_id.sql")).read_text()
    assert "last_loaded_at > cast('" in unique
    with psycopg.connect(conninfo(warehouse_env)) as conn:
        rows = conn.execute(
            "select full_refresh, raw_loaded_through from shop_meta.warehouse_builds order by build_id desc limit 1"
        ).fetchone()
    assert rows == (False, newest + timedelta(hours=2))  # the next build tests what came after
    # The models keyed by day and product look their touched keys up in the enriched events. In a
    # build with no new rows right after an appended day, the five minutes' overlap of their
    # watermark re-reads the appended day, and only that day is touched: planned on statistics that
    # predate it, the look-up was a nested loop that read the day once per row of it (quadratic).
    # The build analyzes a table that holds a day beyond its statistics.
    with psycopg.connect(conninfo(warehouse_env)) as conn:
        (appended,) = conn.execute("select max(last_loaded_at) from intermediate.int_interactions_enriched").fetchone()
        for model in ("marts/product_daily_performance.sql", "monitoring/monitoring_product_prices_daily.sql"):
            query = _as_rebuilt_after(
                (compiled / "models" / model).read_text(), newest_day + timedelta(days=1), appended - timedelta(minutes=5))
            (plan,) = conn.execute("explain (format json) " + query).fetchone()
            assert "Nested Loop" not in _node_types(plan[0]["Plan"]), (model, plan)


def _as_rebuilt_after(query: str, day, watermark) -> str:
    """An incremental model's compiled select as a build with no new rows after `day`'s load runs it:
    that day alone touched, `watermark` inlined."""
    days = re.compile(r"occurred_date in \((cast\('[0-9-]+' as date\)(, )?)+\)")
    loads = re.compile(r"last_loaded_at > cast\('[^']+' as timestamp with time zone\)")
    assert days.search(query) and loads.search(query), query  # the incremental select
    query = days.sub(f"occurred_date in (cast('{day}' as date))", query)
    return loads.sub(f"last_loaded_at > cast('{watermark.isoformat()}' as timestamp with time zone)", query)


def _node_types(node: dict) -> list[str]:
    """The node types of a JSON query plan, depth first."""
    return [node["Node Type"], *(kind for child in node.get("Plans", []) for kind in _node_types(child))]


def test_scoped_checks_see_every_row_of_a_touched_key_and_test_all_sees_every_row(built, warehouse_env, dbt_home) -> None:
    """orders' checks in an ordinary build cover every order of a customer with a recently loaded
    order (a late earlier order renumbers the others, whose own load time stays old), not other
    customers' orders; `--test-all` (test_all) checks every row. customers' checks (a view, tested
    whole) find a negative count of a user whose rows were loaded long ago; the reconciliation with
    staging finds an order and a day of sales_summary that disagree with it, one row each."""
    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        # the customer (of two or more orders) with the newest order, that order and an older one,
        # and an order of a customer whose every order is older than that newest one
        newest_order, older_order, newest = conn.execute(
            """
            select newest.order_id, older.order_id, newest.max_loaded_at
            from marts.orders as newest
            inner join marts.orders as older
                on older.user_id = newest.user_id and older.max_loaded_at < newest.max_loaded_at
            order by newest.max_loaded_at desc, newest.order_id, older.order_id
            limit 1
            """
        ).fetchone()
        (elsewhere,) = conn.execute(
            "select order_id from marts.orders where user_id in"
            " (select user_id from marts.orders group by user_id having max(max_loaded_at) < %s) limit 1",
            (newest,),
        ).fetchone()
        planted = [newest_order, older_order, elsewhere]
        conn.execute("update marts.orders set customer_order_number = -customer_order_number where order_id = any(%s)",
                     (planted,))
        (old_user,) = conn.execute("select user_id from intermediate.int_users_joined_to_activity"
                                   " where max_loaded_at < %s order by user_id limit 1", (newest,)).fetchone()
        plant_negative = "update intermediate.int_users_joined_to_activity set sessions = -1 - sessions where user_id = %s"
        conn.execute(plant_negative, (old_user,))
        checks = ["orders_column_checks", "customers_column_checks"]
        # and, for the reconciliation with staging (both of its checks), an order's revenue and a
        # day's views off by one on the oldest day, which every row's test reads
        reconcile = "assert_orders_and_sales_summary_reconcile_with_staging"
        oldest_order = conn.execute("select order_id from marts.orders order by order_date, order_id limit 1").fetchone()[0]
        shift_revenue = "update marts.orders set revenue = revenue + %s where order_id = %s"
        shift_views = "update marts.sales_summary set views = views + %s where activity_date = (select min(activity_date) from marts.sales_summary)"
        conn.execute(shift_revenue, (1, oldest_order))
        conn.execute(shift_views, (1,))
        # and, for every row's build, a user twice in the table that holds customers' key, once its
        # unique index is gone (with the index, unique_key trusts it and counts nothing)
        unique_users = "unique_key_int_users_joined_to_activity_user_id"
        (index_name, index_sql), = conn.execute(
            "select indexname, indexdef from pg_indexes where schemaname = 'intermediate'"
            " and tablename = 'int_users_joined_to_activity' and indexdef like 'CREATE UNIQUE INDEX%%'").fetchall()
        try:
            scoped = dbt_runner.build(
                {**warehouse_env, "SHOP_TEST_LOADED_AFTER": (newest - timedelta(microseconds=1)).isoformat()},
                home=dbt_home, select=checks,
            )
            everything = dbt_runner.build(warehouse_env, home=dbt_home, select=[*checks, reconcile], test_all=True)
            # (a build of its own: dbt skips the tests downstream of a failed one, customers' among them)
            conn.execute(sql.SQL("drop index intermediate.{}").format(sql.Identifier(index_name)))
            conn.execute("insert into intermediate.int_users_joined_to_activity"
                         " select * from intermediate.int_users_joined_to_activity where user_id = %s", (old_user,))
            duplicated = dbt_runner.build(warehouse_env, home=dbt_home, select=[unique_users])
        finally:
            conn.execute("delete from intermediate.int_users_joined_to_activity where ctid in (select max(ctid)"
                         " from intermediate.int_users_joined_to_activity where user_id = %s)", (old_user,))
            conn.execute(sql.SQL(index_sql.replace("CREATE UNIQUE INDEX", "CREATE UNIQUE INDEX IF NOT EXISTS", 1)))
            conn.execute("update marts.orders set customer_order_number = -customer_order_number"
                         " where order_id = any(%s)", (planted,))
            conn.execute(plant_negative, (old_user,))
            conn.execute(shift_revenue, (-1, oldest_order))
            conn.execute(shift_views, (-1,))
    assert sorted((node.name, node.failures) for node in scoped.nodes) == [
        ("customers_column_checks", 1), ("orders_column_checks", 2)]
    assert sorted((node.name, node.failures) for node in everything.nodes) == [
        (reconcile, 2), ("customers_column_checks", 1), ("orders_column_checks", 3)]
    assert [(node.name, node.failures) for node in duplicated.nodes] == [(unique_users, 1)]


def test_the_reconciliation_with_staging_fails_on_a_defect_in_either_mart_on_a_recent_day(
        built, warehouse_env, dbt_home) -> None:
    """An ordinary build's reconciliation of orders and sales_summary with staging (the recent days
    only, de-duplicated day by day) finds a lost order and, in sales_summary, a wrong revenue and a
    missing day, each on one of the two newest days: one failing row each."""
    reconcile = "assert_orders_and_sales_summary_reconcile_with_staging"
    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        (newest_day, day_before), = conn.execute(
            "select max(activity_date), max(activity_date) - 1 from marts.sales_summary").fetchall()
        # recent: loaded since the first load of the day before the newest (both days in the scope)
        (mark,) = conn.execute(
            "select min(loaded_at) - interval '1 microsecond' from raw.interactions"
            " where (occurred_at at time zone 'UTC')::date = %s", (day_before,)).fetchone()
        (lost,) = conn.execute("select order_id from marts.orders where order_date = %s order by order_id limit 1",
                               (day_before,)).fetchone()
        conn.execute("create temporary table planted_order as select * from marts.orders where order_id = %s", (lost,))
        conn.execute("create temporary table planted_day as select * from marts.sales_summary where activity_date = %s",
                     (newest_day,))
        shift_revenue = "update marts.sales_summary set revenue = revenue + %s where activity_date = %s"
        try:
            conn.execute("delete from marts.orders where order_id = %s", (lost,))
            conn.execute(shift_revenue, (1, day_before))
            conn.execute("delete from marts.sales_summary where activity_date = %s", (newest_day,))
            env = {**warehouse_env, "SHOP_TEST_LOADED_AFTER": mark.isoformat(),
                   "SHOP_TEST_SETTLED_BEFORE": conn.execute("select now()").fetchone()[0].isoformat()}
            result = dbt_runner.build(env, home=dbt_home, select=[reconcile])
        finally:
            conn.execute("insert into marts.orders select * from planted_order")
            conn.execute(shift_revenue, (-1, day_before))
            conn.execute("insert into marts.sales_summary select * from planted_day")
    assert [(node.name, node.failures) for node in result.nodes] == [(reconcile, 3)]
    compiled = (result.target_dir / "compiled" / "shop" / "dbt_project" / "tests" / f"{reconcile}.sql").read_text()
    assert f"cast('{newest_day}' as date)" in compiled and "1 = 1" not in compiled  # the recent days, not all


def test_the_enriched_events_gate_tests_read_new_rows_by_bitmap_scans_and_still_fail_on_bad_ones(
        built, warehouse_env, dbt_home) -> None:
    """The four tests of int_interactions_enriched (they gate every model downstream) run with plain
    index scans off, so that the newly loaded rows are fetched page by page (macros/bitmap_scans_only.sql),
    and each still fails on a bad row loaded after the mark: an event id on two days, an unknown user,
    an unknown product, a missing session."""
    enriched = "intermediate.int_interactions_enriched"
    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        newest, user_id, product_id = conn.execute(
            "select max(last_loaded_at), (select max(user_id) + 1000 from raw.users),"
            " (select max(product_id) + 1000 from raw.products) from " + enriched).fetchone()
        columns = [name for (name,) in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'intermediate'"
            " and table_name = 'int_interactions_enriched' order by ordinal_position")]
        # (event id, day shift, user, product, session) of each planted copy of one stored event
        planted = [("00000000-0000-0000-0000-00000000d001", 1, None, None, "keep"),
                   ("00000000-0000-0000-0000-00000000d001", 2, None, None, "keep"),
                   ("00000000-0000-0000-0000-00000000d002", 1, user_id, None, "keep"),
                   ("00000000-0000-0000-0000-00000000d003", 1, None, product_id, "keep"),
                   ("00000000-0000-0000-0000-00000000d004", 1, None, None, None)]
        replaced = {"event_id": "%s::uuid", "occurred_date": "occurred_date + %s",
                    "user_id": "coalesce(%s::bigint, user_id)", "product_id": "coalesce(%s::bigint, product_id)",
                    "session_id": "case when %s::text is null then null else session_id end",
                    "last_loaded_at": "%s::timestamptz + interval '1 hour'"}
        assert set(replaced) <= set(columns)
        insert = sql.SQL("insert into intermediate.int_interactions_enriched ({}) select {} from {} limit 1").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.SQL(replaced[name]) if name in replaced else sql.Identifier(name) for name in columns),
            sql.SQL(enriched))
        try:
            for event_id, shift, user, product, session in planted:
                values = {"event_id": event_id, "occurred_date": shift, "user_id": user, "product_id": product,
                          "session_id": session, "last_loaded_at": newest}
                conn.execute(insert, [values[name] for name in columns if name in replaced])
            gates = ["int_interactions_enriched_column_checks", "unique_int_interactions_enriched_event_id",
                     "relationships_int_interactions_enriched_user_id__user_id__ref_stg_shop__users_",
                     "relationships_int_interactions_enriched_product_id__product_id__ref_stg_shop__products_"]
            result = dbt_runner.build({**warehouse_env, "SHOP_TEST_LOADED_AFTER": newest.isoformat()},
                                      home=dbt_home, select=gates)
        finally:
            conn.execute("delete from " + enriched + " where event_id = any(%s::uuid[])",
                         (sorted({event_id for event_id, *_ in planted}),))
    assert sorted((node.name, node.failures) for node in result.nodes) == sorted(
        [(gates[0], 1), (gates[1], 1), (gates[2], 1), (gates[3], 1)])
    # what each test ran (dbt shortens a long test's file name): the four, and no other test of the file
    ran = result.target_dir / "run" / "shop" / "dbt_project" / "models" / "intermediate" / "_intermediate__models.yml"
    bitmap_only = {path.name for path in ran.iterdir()
                   if path.read_text().lstrip().startswith("set local enable_indexscan = off;")}
    assert len(bitmap_only) == 4 and "unique_int_interactions_enriched_event_id.sql" in bitmap_only, bitmap_only
    assert (ran / "unique_int_purchases_aggregated_to_orders_order_id.sql").is_file()


@pytest.mark.parametrize("variable", ["SHOP_TEST_LOADED_AFTER", "SHOP_TEST_SETTLED_BEFORE"])
def test_a_malformed_test_scope_is_refused(built, warehouse_env, dbt_home, variable) -> None:
    result = dbt_runner.build(
        {**warehouse_env, variable: "2024-01-01' or 1=1 --"},
        home=dbt_home,
        select=["assert_orders_and_sales_summary_reconcile_with_staging"],
    )
    assert not result.success
    assert f"{variable} must be an ISO 8601 timestamp" in (result.exception or "") + "\n".join(result.errors)


def test_a_build_counts_rows_settled_only_before_every_other_open_transaction(built, warehouse_env) -> None:
    """A loader's transaction open when the build starts may still commit rows loaded before then:
    the settled point is no later than that transaction's start; with none open, it is now."""
    from shop import build_marks

    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as probe:
        now = probe.execute("select now()").fetchone()[0]
    assert build_marks.begin(warehouse_env).settled_before >= now
    with psycopg.connect(conninfo(warehouse_env)) as loader:
        loader.execute("select pg_sleep(0.2)")  # a transaction is open from here on
        opened = loader.execute("select now()").fetchone()[0]
        start = build_marks.begin(warehouse_env)
        assert start.settled_before == opened
        assert start.test_settled_before() == opened.isoformat()
        loader.rollback()


LATE_COMMITS = ["int_interactions_enriched", "int_purchases_aggregated_to_orders", "order_lines",
                "monitoring_events_hourly", "monitoring_category_hourly"]


def test_days_only_the_overlap_touched_are_rebuilt_only_when_a_late_commit_changed_them(
        built, warehouse_env, dbt_home) -> None:
    """The hourly monitoring models leave alone a day that only the watermark's overlap touched when
    they count each of its events already, and rebuild one where a loader committed, late and inside
    the overlap, a new event or a redelivery. And order_lines looks its touched orders' events up
    in enriched's order index whatever join the planner would choose."""
    models_only = ["resource_type:test", "resource_type:unit_test"]
    with psycopg.connect(conninfo(warehouse_env)) as conn:
        # the newest load: a late view of a day in the middle, which the next build counts; the build
        # after it re-reads that day through the overlap
        conn.execute(
            """
            insert into raw.interactions (event_id, session_id, user_id, product_id, event_type, quantity,
                                          unit_price, order_id, recommendation_variant, occurred_at, loaded_at)
            select gen_random_uuid(), session_id, user_id, product_id, 'view', 1, unit_price, null, null,
                   occurred_at, (select max(loaded_at) from raw.interactions) + interval '1 minute'
            from raw.interactions order by occurred_at offset (select count(*) / 2 from raw.interactions) limit 1
            """
        )
    build_ok(warehouse_env, dbt_home, select=LATE_COMMITS, exclude=models_only)
    with psycopg.connect(conninfo(warehouse_env)) as conn:
        (newest,) = conn.execute("select max(last_loaded_at) from intermediate.int_interactions_enriched").fetchone()
        overlap = newest - timedelta(minutes=5)
        counted = {day for (day,) in conn.execute(
            "select occurred_date from intermediate.int_interactions_enriched where last_loaded_at > %s"
            " group by occurred_date having max(delivery_count) = 1",
            (overlap,),
        )}
        new_event_day, redelivered_day = (day for (day,) in conn.execute(
            "select occurred_date from intermediate.int_interactions_enriched group by occurred_date"
            " having max(last_loaded_at) <= %s order by occurred_date limit 2",
            (overlap,),
        ))
        # committed now, stamped inside the overlap: a new purchase, and a copy of an event
        conn.execute(
            """
            insert into raw.interactions (event_id, session_id, user_id, product_id, event_type, quantity,
                                          unit_price, order_id, recommendation_variant, occurred_at, loaded_at)
            select gen_random_uuid(), session_id, user_id, product_id, 'purchase', 1, 9.99, gen_random_uuid(),
                   null, occurred_at, %(stamped)s
            from intermediate.int_interactions_enriched where occurred_date = %(day)s
            order by event_id limit 1
            """,
            {"stamped": newest - timedelta(minutes=2), "day": new_event_day},
        )
        conn.execute(
            """
            insert into raw.interactions (event_id, session_id, user_id, product_id, event_type, quantity,
                                          unit_price, order_id, recommendation_variant, occurred_at, loaded_at)
            select event_id, session_id, user_id, product_id, event_type, quantity, unit_price, order_id,
                   recommendation_variant, occurred_at, %(stamped)s
            from raw.interactions where (occurred_at at time zone 'UTC')::date = %(day)s
            order by event_id limit 1
            """,
            {"stamped": newest - timedelta(minutes=1), "day": redelivered_day},
        )
    assert counted, "the plan must hold a day only rows the models counted touch inside the overlap"

    result = build_ok(warehouse_env, dbt_home, select=LATE_COMMITS, exclude=models_only)

    compiled = result.target_dir / "compiled" / "shop" / "dbt_project" / "models"
    with psycopg.connect(conninfo(warehouse_env)) as conn:
        for model in ("monitoring_events_hourly", "monitoring_category_hourly"):
            days = next(line for line in (compiled / "monitoring" / f"{model}.sql").read_text().splitlines()
                        if "occurred_date in (" in line)
            assert f"cast('{new_event_day}' as date)" in days and f"cast('{redelivered_day}' as date)" in days, days
            assert not any(f"cast('{day}' as date)" in days for day in counted), (model, days, counted)
            for day in (new_event_day, redelivered_day):
                stored, enriched = conn.execute(
                    sql.SQL("select (select sum(events) from monitoring.{} where event_date = %(day)s),"
                            " (select count(*) from intermediate.int_interactions_enriched where occurred_date = %(day)s)")
                    .format(sql.Identifier(model)),
                    {"day": day},
                ).fetchone()
                assert stored == enriched, (model, day)
        stored, delivered = conn.execute(
            "select (select sum(deliveries) from monitoring.monitoring_events_hourly where event_date = %(day)s),"
            " (select count(*) from raw.interactions where (occurred_at at time zone 'UTC')::date = %(day)s)",
            {"day": redelivered_day},
        ).fetchone()
        assert stored == delivered

        # At 500,000 accounts an analyze that underestimated order_id's distinct values made a join of
        # the touched orders with enriched a hash join over every order's events; a planner without
        # nested loops does the same on any shop. The touched orders must be looked up whatever the join.
        conn.execute("set local enable_nestloop = off")
        select = (compiled / "marts" / "order_lines.sql").read_text()
        assert "touched.max_loaded_at > cast('" in select  # the incremental select
        (plan,) = conn.execute("explain (format json) " + select).fetchone()
        scans = [node for node in _nodes(plan[0]["Plan"]) if node.get("Relation Name") == "int_interactions_enriched"]
        assert scans and all("order_id" in node.get("Index Cond", node.get("Recheck Cond", "")) for node in scans), plan
        conn.rollback()


def _nodes(node: dict) -> list[dict]:
    """The nodes of a JSON query plan, depth first."""
    return [node, *(found for child in node.get("Plans", []) for found in _nodes(child))]


def test_dropping_the_warehouse_forgets_its_builds(built, warehouse_env, dbt_home) -> None:
    """After drop_warehouse the next build tests every recent row, not only those loaded after an old mark."""
    from shop import build_marks

    assert build_marks.begin(warehouse_env).previous is not None  # `built` recorded its build
    drop_warehouse(warehouse_env)
    start = build_marks.begin(warehouse_env)
    assert start.previous is None and start.test_loaded_after() is None
    build_ok(warehouse_env, dbt_home)
    assert build_marks.begin(warehouse_env).previous is not None


def test_a_selection_that_matches_nothing_is_an_error(database) -> None:
    """dbt only warns about a selection that names nothing; `shop build` says so and exits 1."""
    result = run_shop("build", "--select", "nosuch_model", env=database.env, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "--select nosuch_model matches no model" in result.stderr


def test_unit_tests_rerun_when_the_code_or_the_database_changes(tmp_path, monkeypatch) -> None:
    project = tmp_path / "project"
    shutil.copytree(dbt_artifacts.PROJECT_DIR / "dbt_project", project / "dbt_project")
    for name in ("dbt_project.yml", "profiles.example.yml"):
        shutil.copyfile(dbt_artifacts.PROJECT_DIR / name, project / name)
    monkeypatch.setattr(unit_test_gate, "PROJECT_DIR", project)
    env = {"PGHOST": "/sock", "PGPORT": "5432", "PGDATABASE": "shop"}
    home = tmp_path / "home"
    passed = unit_test_gate.fingerprint(env)
    assert unit_test_gate.needed(passed, home)  # never ran here
    unit_test_gate.record(passed, home)
    assert not unit_test_gate.needed(unit_test_gate.fingerprint(env), home)
    assert unit_test_gate.needed(unit_test_gate.fingerprint({**env, "PGDATABASE": "other"}), home)
    model = project / "dbt_project" / "models" / "marts" / "orders.sql"
    model.write_text(model.read_text() + "\n-- changed\n")
    assert unit_test_gate.needed(unit_test_gate.fingerprint(env), home)
