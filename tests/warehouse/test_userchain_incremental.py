"""The user chain's incremental proof on the changes its shortcuts make risky: user months rebuild a
touched user's months from the earliest touched one and carry the earlier ones over; the users
joined to their lifetime totals are rebuilt, summed again from their months, for touched, new and
changed users only (removed ones deleted); customers scores them from stored quintile boundaries.
After an appended day in the next month with a buyer's second order, a late order of an old
customer from the month before the shop's first day, a redelivered line, a new user, a changed user
row and a removed one, the user chain equals its full refresh row for row, an untouched user's
joined row was not rewritten, and the scores are ntile(5) over the buyers."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from . import synthetic
from .support import build_ok, conninfo, drop_warehouse

pytestmark = pytest.mark.slow

# Fewer sessions than users: about half the users never visit (prospects).
SIZE = synthetic.ShopSize(events=1_500, users=300, products=20, days=12, chunks=2)
CHAIN = ["+customers"]
# What the proof rebuilds from scratch: the models whose incremental shortcuts are under test.
CHANGED = ["int_activity_aggregated_to_user_months", "int_users_joined_to_activity",
           "int_customer_rfm_boundaries", "customers"]
NO_TESTS = ["resource_type:test", "resource_type:unit_test"]
MODELS = (
    "intermediate.int_activity_aggregated_to_user_months",
    "intermediate.int_users_joined_to_activity",
    "intermediate.int_customer_rfm_boundaries",
    "marts.customers",
)
# The scores as the stored boundaries must give them: ntile(5) over the buyers, ties by user_id.
NTILE_MISMATCHES = """
    with ranked as (
        select user_id,
               ntile(5) over (order by recency_days desc, user_id) as recency_score,
               ntile(5) over (order by orders, user_id) as frequency_score,
               ntile(5) over (order by lifetime_revenue nulls first, user_id) as monetary_score
        from marts.customers where orders > 0
    )
    select count(*) filter (where (c.recency_score, c.frequency_score, c.monetary_score)
                            is distinct from (r.recency_score, r.frequency_score, r.monetary_score)),
           count(r.user_id)
    from marts.customers as c left join ranked as r on c.user_id = r.user_id
"""
NEW_USER = 90_001

PLANT_EVENTS = """
    insert into raw.interactions (event_id, session_id, user_id, product_id, event_type, quantity,
                                  unit_price, order_id, recommendation_variant, occurred_at, loaded_at)
    select gen_random_uuid(), md5(%(session)s)::uuid, %(user_id)s, 1, kind, 1, 19.99,
           case when kind = 'purchase' then md5(%(session)s || '-order')::uuid end, null,
           %(at)s::timestamptz + step * interval '1 minute', (select max(loaded_at) from raw.interactions) + interval '1 hour'
    from unnest(array['view', 'purchase']) with ordinality as e(kind, step)
"""


def _one(conn: psycopg.Connection, query: str, params: tuple = ()) -> tuple:
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row


def _plant_the_appended_day(conn: psycopg.Connection) -> dict[str, int]:
    """The risky changes; returns the users they concern."""
    (newest,) = _one(conn, "select max(occurred_at) from raw.interactions")
    (oldest,) = _one(conn, "select min(occurred_at) from raw.interactions")
    # the appended day is in the next month: a returning user's earlier months are carried over
    appended = newest + timedelta(days=25)
    # a buyer with one order orders again on the appended day
    (second_order,) = _one(conn, "select user_id from marts.customers where orders = 1 order by user_id limit 1")
    conn.execute(PLANT_EVENTS, {"session": "second-order", "user_id": second_order, "at": appended})
    # an old customer's order from the month before the shop's first day arrives only now (late)
    (late,) = _one(conn, "select user_id from marts.customers where orders > 0 and user_id <> %s"
                   " order by last_order_at, user_id limit 1", (second_order,))
    conn.execute(PLANT_EVENTS, {"session": "late-order", "user_id": late, "at": oldest - timedelta(days=40)})
    # a line of another customer's order delivered again
    (redelivered,) = conn.execute(
        """
        insert into raw.interactions (event_id, session_id, user_id, product_id, event_type, quantity, unit_price,
                                      order_id, recommendation_variant, occurred_at, loaded_at)
        select event_id, session_id, user_id, product_id, event_type, quantity, unit_price, order_id,
               recommendation_variant, occurred_at, (select max(loaded_at) from raw.interactions) + interval '2 hours'
        from raw.interactions
        where order_id is not null and user_id not in (%s, %s)
        order by occurred_at desc, event_id limit 1
        returning user_id
        """,
        (second_order, late),
    ).fetchone()
    # a new user signs up and visits
    conn.execute("insert into raw.users (user_id, email, full_name, country, channel, signup_at)"
                 " values (%s, 'new@example.com', 'New User', 'PT', 'organic', %s)", (NEW_USER, appended))
    conn.execute(PLANT_EVENTS, {"session": "new-user", "user_id": NEW_USER, "at": appended})
    # a prospect moves country and changes name; another one (and their row) goes
    changed, removed = [user for (user,) in conn.execute(
        "select user_id from marts.customers where sessions = 0 order by user_id limit 2").fetchall()]
    (untouched,) = _one(conn, "select user_id from marts.customers where orders > 0 and user_id not in (%s, %s, %s)"
                        " order by user_id desc limit 1", (second_order, late, redelivered))
    conn.execute("update raw.users set country = 'JP', full_name = 'Renamed' where user_id = %s", (changed,))
    conn.execute("delete from raw.users where user_id = %s", (removed,))
    return {"second_order": second_order, "late": late, "changed": changed, "removed": removed,
            "untouched": untouched}


def _versions(conn: psycopg.Connection, user_id: int) -> tuple:
    return _one(conn, "select joined.xmin::text from intermediate.int_users_joined_to_activity as joined"
                      " where joined.user_id = %s", (user_id,))


def _snapshot(conn: psycopg.Connection) -> None:
    conn.execute("drop schema if exists userchain_snapshot cascade")
    conn.execute("create schema userchain_snapshot")
    for model in MODELS:
        conn.execute(f"create table userchain_snapshot.{model.split('.')[1]} as select * from {model}")


def _differences(conn: psycopg.Connection) -> dict[str, tuple[int, int]]:
    report = {}
    for model in MODELS:
        snapshot = f"userchain_snapshot.{model.split('.')[1]}"
        only_incremental = _one(conn, f"select count(*) from (select * from {snapshot} except all"
                                      f" select * from {model}) as d")[0]
        only_full = _one(conn, f"select count(*) from (select * from {model} except all"
                               f" select * from {snapshot}) as d")[0]
        report[model] = (only_incremental, only_full)
    return report


def test_an_appended_day_of_risky_changes_equals_a_full_refresh(warehouse_env, dbt_home) -> None:
    drop_warehouse(warehouse_env)
    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        synthetic.create_shop(conn, SIZE)
        synthetic.load_chunk(conn, SIZE, SIZE.chunks - 1, upto=True)
    build_ok(warehouse_env, dbt_home, full_refresh=True, select=CHAIN, exclude=NO_TESTS)

    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        users = _plant_the_appended_day(conn)
        untouched_versions = _versions(conn, users["untouched"])
    build_ok(warehouse_env, dbt_home, select=CHAIN, exclude=NO_TESTS)

    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        customers = {user: row for user, *row in conn.execute(
            "select user_id, orders, country_code, full_name from marts.customers").fetchall()}
        assert customers[users["second_order"]][0] == 2
        assert customers[NEW_USER][0] == 1
        assert customers[users["changed"]][1:3] == ["JP", "Renamed"]
        assert users["removed"] not in customers
        # the incremental run left the joined row of a user it had no reason to touch alone
        assert _versions(conn, users["untouched"]) == untouched_versions
        mismatches, buyers = _one(conn, NTILE_MISMATCHES)
        assert buyers > 20 and mismatches == 0
        (late_first,) = _one(conn, "select min(first_order_at) from intermediate.int_activity_aggregated_to_user_months"
                                   " where user_id = %s", (users["late"],))
        assert late_first < _one(conn, "select min(occurred_at) from synthetic.deliveries")[0]
        months = dict(conn.execute("select user_id, count(*) from intermediate.int_activity_aggregated_to_user_months"
                                   " group by user_id").fetchall())
        assert months[users["second_order"]] >= 2 and months[users["late"]] >= 2
        _snapshot(conn)

    build_ok(warehouse_env, dbt_home, full_refresh=True, select=CHANGED, exclude=NO_TESTS)
    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        report = _differences(conn)
        conn.execute("drop schema userchain_snapshot cascade")
    assert all(diff == (0, 0) for diff in report.values()), f"incremental != full refresh: {report}"
