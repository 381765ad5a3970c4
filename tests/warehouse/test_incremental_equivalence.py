"""Proof of the incremental rule: loading a shop in chunks (late, duplicated and out-of-order events)
with `shop build` after each chunk yields, row for row, what one `--full-refresh` build yields: on a
planned synthetic shop, and on the simulator's."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

import numpy as np

from shopcore import dbt_artifacts
from simulator import loader
from simulator.batch import EventBatch
from simulator.generate import generate_history
from simulator.params import SimulationParams
from simulator.world import build_world

from . import synthetic
from .support import build_ok, conninfo, drop_warehouse

pytestmark = pytest.mark.slow

SIZE = synthetic.ShopSize(events=12_000, users=250, products=50, days=24, chunks=6)
# The builds between loads run models only: once the incremental models equal a full refresh, the
# full refresh's data tests judge their rows too. The last incremental build keeps its data tests,
# scoped to the rows its load brought, as `shop build` runs them.
MODELS_ONLY = ["resource_type:test", "resource_type:unit_test"]
WITH_DATA_TESTS = ["test_type:unit"]

# Every model materialised incrementally; all of them must equal their full-refresh selves.
INCREMENTAL_MODELS = (
    "intermediate.int_interactions_enriched",
    "intermediate.int_purchases_aggregated_to_orders",
    "intermediate.int_interactions_aggregated_to_sessions",
    "intermediate.int_activity_aggregated_to_user_months",
    "intermediate.int_users_joined_to_activity",
    "intermediate.int_customer_rfm_boundaries",
    "marts.sales_summary",
    "marts.orders",
    "marts.product_daily_performance",
    "marts.user_item_interactions",
    "marts.interaction_events",
    "marts.order_lines",
    "marts.recommendation_user_days",
    "marts.recommendation_variant_daily",
    "monitoring.monitoring_events_hourly",
    "monitoring.monitoring_category_hourly",
    "monitoring.monitoring_loads_hourly",
    "monitoring.monitoring_product_prices_daily",
    "monitoring.alert_windows",
    "marts.price_changes",
)
# The tables (and the customers view) downstream of them are compared too.
TABLE_MODELS = (
    "marts.customers",
    "marts.products",
    "marts.daily_category_funnel",
    "marts.signup_cohorts",
    "monitoring.alerts",
)


def _snapshot(conn: psycopg.Connection, schema: str) -> None:
    conn.execute(f"drop schema if exists {schema} cascade")
    conn.execute(f"create schema {schema}")
    for model in INCREMENTAL_MODELS + TABLE_MODELS:
        conn.execute(f"create table {schema}.{model.split('.')[1]} as select * from {model}")


def _differences(conn: psycopg.Connection, model: str, snapshot_schema: str) -> tuple[int, int, int]:
    snapshot = f"{snapshot_schema}.{model.split('.')[1]}"
    only_incremental = conn.execute(
        f"select count(*) from (select * from {snapshot} except all select * from {model}) as d"
    ).fetchone()[0]
    only_full = conn.execute(
        f"select count(*) from (select * from {model} except all select * from {snapshot}) as d"
    ).fetchone()[0]
    rows = conn.execute(f"select count(*) from {model}").fetchone()[0]
    return only_incremental, only_full, rows


def _inserted_rows(result, model_name: str) -> int | None:
    for node in result.nodes:
        if node.name == model_name and node.message:
            match = re.search(r"(\d+)\s*$", node.message)
            if match:
                return int(match.group(1))
    return None


def _ran(dbt_home, folder: str, model: str) -> str:
    """The statements the last build ran for a model (its incremental strategy's included)."""
    return (dbt_artifacts.target_dir(dbt_home) / "run" / "shop" / "dbt_project" / "models" / folder
            / f"{model}.sql").read_text()


MONTH_MOVER = 9_999  # a user whose one session a late event moves into the month before


def _add_month_mover(conn: psycopg.Connection, *, late: bool) -> None:
    """A user with one session, just after midnight on the shop's first day; later, a late event of
    that session from the evening before. The session, and all the user's activity, move into the
    previous month: the month row built first must go."""
    if not late:
        conn.execute(
            "insert into raw.users (user_id, email, full_name, country, channel, signup_at)"
            " values (%s, 'mover@example.com', 'Month Mover', 'DE', 'organic', '2023-11-01 00:00:00+00')",
            (MONTH_MOVER,),
        )
    conn.execute(
        """
        insert into raw.interactions (event_id, session_id, user_id, product_id, event_type, quantity,
                                      unit_price, order_id, recommendation_variant, occurred_at, loaded_at)
        select gen_random_uuid(), md5('month-mover')::uuid, %s, 1, 'view', 1, 42.99, null, null,
               %s::timestamptz, max(loaded_at) + interval '1 minute'
        from raw.interactions
        """,
        (MONTH_MOVER, "2023-12-31 23:55:00+00" if late else "2024-01-01 00:05:00+00"),
    )


OLD_VISITOR = 9_998  # one visit five months before the shop's first day, and a late event of a second


def _add_old_visitor(conn: psycopg.Connection, *, late: bool) -> None:
    """A long, sparse history: a visitor months before the shop's other events (loaded on time), so
    the hourly series span more than the windows the alerts keep; later, a late event from then,
    which makes an incremental run score every kept window again (the misses before it are gone)."""
    if not late:
        conn.execute(
            "insert into raw.users (user_id, email, full_name, country, channel, signup_at)"
            " values (%s, 'old@example.com', 'Old Visitor', 'DE', 'organic', '2023-07-01 00:00:00+00')",
            (OLD_VISITOR,),
        )
    occurred = "2023-08-02 10:00:00+00" if late else "2023-08-01 10:00:00+00"
    conn.execute(
        """
        insert into raw.interactions (event_id, session_id, user_id, product_id, event_type, quantity,
                                      unit_price, order_id, recommendation_variant, occurred_at, loaded_at)
        select gen_random_uuid(), gen_random_uuid(), %s, 1, 'view', 1, 42.99, null, null, %s::timestamptz,
               case when %s then max(loaded_at) + interval '1 minute' else %s::timestamptz + interval '2 minutes' end
        from raw.interactions
        """,
        (OLD_VISITOR, occurred, late, occurred),
    )


def _add_overlap_commits(conn: psycopg.Connection) -> int:
    """Two views that a loader committed after the last build, stamped two minutes before the newest
    load it read (inside the watermark's overlap): one for the (user, product) pair loaded last, whose
    stored row may already count such an event (it must be rebuilt from all its events), and one for
    a pair last loaded a day earlier (its stored row cannot: the view adds to it). Returns how many."""
    newest = conn.execute("select max(loaded_at) from raw.interactions").fetchone()[0]
    stamped = newest - timedelta(minutes=2)
    recent = conn.execute(
        "select user_id, product_id, max_loaded_at from marts.user_item_interactions where user_id <> %s"
        " order by max_loaded_at desc, user_id, product_id limit 1",
        (MONTH_MOVER,),
    ).fetchone()
    older = conn.execute(
        "select user_id, product_id, max_loaded_at from marts.user_item_interactions"
        " where max_loaded_at < %s order by user_id, product_id limit 1",
        (newest - timedelta(days=1),),
    ).fetchone()
    assert recent[2] >= stamped > older[2], (recent, older, stamped)
    for user_id, product_id, _ in (recent, older):
        conn.execute(
            """
            insert into raw.interactions (event_id, session_id, user_id, product_id, event_type, quantity,
                                          unit_price, order_id, recommendation_variant, occurred_at, loaded_at)
            values (gen_random_uuid(), gen_random_uuid(), %s, %s, 'view', 1, 42.99, null, null,
                    %s::timestamptz - interval '3 hours', %s)
            """,
            (user_id, product_id, stamped, stamped),
        )
    return 2


def _full_refresh_differences(warehouse_env, dbt_home) -> dict[str, tuple[int, int, int]]:
    """After a snapshot of the incremental models: a full refresh, then (rows only incremental, only
    full, total) per model; fails when any model differs."""
    build_ok(warehouse_env, dbt_home, full_refresh=True, exclude=WITH_DATA_TESTS)
    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        report = {model: _differences(conn, model, "incremental_snapshot") for model in INCREMENTAL_MODELS + TABLE_MODELS}
        conn.execute("drop schema incremental_snapshot cascade")
    mismatched = {model: diff for model, diff in report.items() if diff[0] or diff[1]}
    assert not mismatched, f"incremental != full refresh (rows only incremental, only full, total): {mismatched}"
    return report


def test_incremental_builds_equal_a_full_refresh(warehouse_env, dbt_home) -> None:
    drop_warehouse(warehouse_env)
    with psycopg.connect(conninfo(warehouse_env)) as conn:
        synthetic.create_shop(conn, SIZE)
        planned = conn.execute(
            "select count(*), count(distinct n), count(*) filter (where copy_no > 0) from synthetic.deliveries"
        ).fetchone()
    deliveries, events, redeliveries = planned
    assert redeliveries > 0 and events == SIZE.events

    inserted_last = None
    overlap_rows = 0
    for chunk in range(SIZE.chunks):
        with psycopg.connect(conninfo(warehouse_env)) as conn:
            if chunk == 2:
                overlap_rows = _add_overlap_commits(conn)
            loaded = synthetic.load_chunk(conn, SIZE, chunk)
            if chunk in (1, 3):
                _add_month_mover(conn, late=chunk == 3)
            if chunk in (0, 3):
                _add_old_visitor(conn, late=chunk == 3)
            if chunk == SIZE.chunks - 2:
                # a product changes category: rows built earlier must follow (order_lines, funnel)
                conn.execute(
                    "update raw.products set category = 'garden', updated_at = updated_at + interval '1 day'"
                    " where product_id = 3 and category <> 'garden'"
                )
        assert loaded > 0
        last = chunk == SIZE.chunks - 1
        result = build_ok(warehouse_env, dbt_home, exclude=WITH_DATA_TESTS if last else MODELS_ONLY)
        inserted_last = _inserted_rows(result, "int_interactions_enriched")
        if chunk in (1, 3):
            # user_item_interactions inserts the pairs of users above every stored user without the
            # merge's look-up: the month mover, new at chunk 1 (the old visitor was the newest stored
            # user); at chunk 3 the mover is the newest stored user and its late event's pair is
            # stored, so it must be merged (a rule of `>=` would insert it twice and fail the build)
            newest = OLD_VISITOR if chunk == 1 else MONTH_MOVER
            assert f"\"user_id\" > '{newest}'::bigint" in _ran(dbt_home, "marts", "user_item_interactions")
        if chunk in (2, 3, 5):
            # the old visitor's late event: everything kept scored again, from the kept span's reads
            # (not from months back); the loads before and after it (not the new catalogue's): incremental
            compiled = (dbt_artifacts.target_dir(dbt_home) / "compiled" / "shop" / "dbt_project" / "models"
                        / "monitoring" / "alert_windows.sql").read_text()
            rescored_all = re.search(r"now_hour - interval '\d+ days' as read_from", compiled) is not None
            assert rescored_all == (chunk == 3), compiled

    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        total_rows = conn.execute("select count(*) from raw.interactions").fetchone()[0]
        assert total_rows == deliveries + 2 + 2 + overlap_rows  # and the month mover's and old visitor's events
        months = conn.execute(
            "select activity_month from intermediate.int_activity_aggregated_to_user_months where user_id = %s",
            (MONTH_MOVER,),
        ).fetchall()
        assert [str(month) for (month,) in months] == ["2023-12-01"]
        late = conn.execute(
            "select count(*) from raw.interactions where loaded_at - occurred_at > interval '8 days'"
        ).fetchone()[0]
        assert late > 0, "the plan must contain late events"
        # lists clicked only by views of a later day, which arrived a load after them (synthetic.py's
        # lists served 20 hours before their view): the incremental runs rebuilt the lists' days
        crossed = conn.execute(
            "select count(*) from marts.recommendation_user_days where clicked_lists > 0 and clicks = 0"
        ).fetchone()[0]
        assert crossed > 0, "the plan must contain clicks across midnight"
        # the last incremental run rebuilt some days, not the whole history
        assert inserted_last is not None and 0 < inserted_last < SIZE.events
        # the alerts' windows are bounded: the old visitor's series are months longer than they
        first_hour, oldest_window = conn.execute(
            "select (select min(event_hour) from monitoring.monitoring_events_hourly),"
            " (select min(window_end) from monitoring.alert_windows)"
        ).fetchone()
        assert oldest_window - first_hour > timedelta(days=60), (first_hour, oldest_window)
        _snapshot(conn, "incremental_snapshot")

    report = _full_refresh_differences(warehouse_env, dbt_home)
    # (A clean shop raises no alert: its scored windows are compared, the alerts may be none.)
    assert all(rows > 0 for model, (_, _, rows) in report.items() if model != "monitoring.alerts"), report


def test_incremental_builds_equal_a_full_refresh_on_simulated_data(warehouse_env, dbt_home) -> None:
    """The same proof on the simulator's shop (moving prices, complements, one-visit visitors,
    late and duplicated rows): its rows loaded in the order they arrive (loaded_at), in chunks,
    with a build after each."""
    drop_warehouse(warehouse_env)
    world = build_world(SimulationParams(users=4000, products=120, days=30, seed=5,
                                         end=datetime(2025, 12, 1, tzinfo=timezone.utc)))
    rows = EventBatch.concat(list(generate_history(world)))
    rows = rows.take(np.argsort(rows.loaded_at, kind="stable"))
    chunks = np.array_split(np.arange(len(rows)), 4)
    with psycopg.connect(conninfo(warehouse_env)) as conn:
        conn.execute("set timezone = 'UTC'")
        loader.truncate_simulated_data(conn)
        conn.execute("truncate raw.served_recommendations")
        loader.copy_world_rows(conn, world)
    for number, chunk in enumerate(chunks):
        with psycopg.connect(conninfo(warehouse_env)) as conn:
            assert loader.copy_events(conn, [rows.take(chunk)]) == len(chunk)
        last = number == len(chunks) - 1
        build_ok(warehouse_env, dbt_home, exclude=WITH_DATA_TESTS if last else MODELS_ONLY)

    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        prices = conn.execute(
            "select count(distinct (product_id, unit_price)) - count(distinct product_id) from raw.interactions"
        ).fetchone()[0]
        assert prices > 0, "events must carry moving prices"
        _snapshot(conn, "incremental_snapshot")
    # Without recommended events those models have no watermark: other events must not make their
    # last incremental run re-read every day of the history.
    marts = dbt_artifacts.target_dir(dbt_home) / "compiled" / "shop" / "dbt_project" / "models" / "marts"
    for model, day_column in (("recommendation_user_days", "occurred_date"), ("recommendation_variant_daily",
                                                                              "activity_date")):
        compiled = (marts / f"{model}.sql").read_text()
        read_days = re.findall(rf"{day_column} in \(([^)]*\))", compiled)
        assert read_days and set(read_days) == {"cast(null as date)"}, compiled
    # price_changes' last run rebuilt only its touched products' recent changes, not the whole table.
    assert "touched_products as (" in (marts / "price_changes.sql").read_text()
    # int_interactions_enriched's last run inserted the events first loaded after its newest load
    # without the merge's look-up, and merged the rest (the proof above holds for both paths).
    # user_item_interactions' did so for the pairs of users above every stored user.
    for folder, model in (("intermediate", "int_interactions_enriched"), ("marts", "user_item_interactions")):
        ran = _ran(dbt_home, folder, model)
        assert re.search(r"merge into .*\binsert into\b.*\border by\b", ran, re.DOTALL | re.IGNORECASE), ran[-3000:]
    report = _full_refresh_differences(warehouse_env, dbt_home)
    # (A simulated history serves no recommendations, and a clean shop raises no alert: only those
    # models may be empty.)
    empty = {model for model, (_, _, rows) in report.items() if rows == 0}
    assert empty <= {"marts.recommendation_user_days", "marts.recommendation_variant_daily", "monitoring.alerts"}, report
