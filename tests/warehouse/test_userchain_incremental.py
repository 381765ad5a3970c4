"""The user chain's incremental proof on the changes its shortcuts make risky: user months rebuild a
touched user's months from the earliest touched one and carry the earlier ones over; the users
joined to their lifetime totals are rebuilt, summed again from their months, for touched, new and
changed users only (removed ones deleted); customers scores them from stored quintile boundaries;
signup_cohorts carries the months before the first changed one over and adds the new users' months.
Two incremental builds: users change (a changed row, a signup moved to another month, a removed
user with activity) with a late order from the month before the shop's first day, then an appended
day in the next month with a buyer's second order, a redelivered line, a late event moving a
session into the month before, a new user and a visitor registered only now. After them the chain
equals its full refresh row for row, an untouched user's joined row was not rewritten, the scores
are ntile(5) over the buyers, and a planted wrong cohort cell was counted again after the user
changes but carried over (as it must be) after the appended day."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from . import synthetic
from .support import build_ok, conninfo, drop_warehouse

pytestmark = pytest.mark.slow

# Fewer sessions than users: about half the users never visit (prospects).
SIZE = synthetic.ShopSize(events=1_500, users=300, products=20, days=12, chunks=2)
CHAIN = ["+customers", "+signup_cohorts"]
# What the proof rebuilds from scratch: the models whose incremental shortcuts are under test.
CHANGED = ["int_activity_aggregated_to_user_months", "int_users_joined_to_activity",
           "int_customer_rfm_boundaries", "customers", "signup_cohorts"]
NO_TESTS = ["resource_type:test", "resource_type:unit_test"]
MODELS = (
    "intermediate.int_activity_aggregated_to_user_months",
    "intermediate.int_users_joined_to_activity",
    "intermediate.int_customer_rfm_boundaries",
    "marts.customers",
    "marts.signup_cohorts",
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
# Visits in October, before the shop's first day, of a user registered only with the appended day
# (an imported shop's visitor): their months were built before the user row existed.
LATE_REGISTERED = 90_002
# One session just after midnight on the shop's first day; a late event of it from the evening
# before moves the session, and the user's activity, into December.
MONTH_MOVER = 299

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


def _plant_before_the_first_build(conn: psycopg.Connection) -> None:
    conn.execute(PLANT_EVENTS, {"session": "late-registered", "user_id": LATE_REGISTERED,
                                "at": "2023-10-15 10:00:00+00"})
    conn.execute(PLANT_EVENTS, {"session": "month-mover", "user_id": MONTH_MOVER, "at": "2024-01-01 00:05:00+00"})


def _plant_user_changes(conn: psycopg.Connection) -> dict[str, int]:
    """Users change (signup_cohorts must count every cell again), with a late order; returns the
    users they concern."""
    (oldest,) = _one(conn, "select min(occurred_at) from raw.interactions where user_id <> %s", (LATE_REGISTERED,))
    # an old customer's order from the month before the shop's first day arrives only now (late)
    (late,) = _one(conn, "select user_id from marts.customers where orders > 0 and user_id <> %s"
                   " order by last_order_at, user_id limit 1", (MONTH_MOVER,))
    conn.execute(PLANT_EVENTS, {"session": "late-order", "user_id": late, "at": oldest - timedelta(days=40)})
    # a prospect moves country and changes name; another one (and their row) goes
    changed, removed = [user for (user,) in conn.execute(
        "select user_id from marts.customers where sessions = 0 order by user_id limit 2").fetchall()]
    conn.execute("update raw.users set country = 'JP', full_name = 'Renamed' where user_id = %s", (changed,))
    conn.execute("delete from raw.users where user_id = %s", (removed,))
    # a buyer's signup moves three months back (another cohort); another buyer and their row go
    (moved,) = _one(conn, "select user_id from marts.customers where orders > 0 and user_id not in (%s, %s)"
                    " order by user_id desc limit 1", (late, MONTH_MOVER))
    conn.execute("update raw.users set signup_at = signup_at - interval '90 days' where user_id = %s", (moved,))
    (removed_buyer,) = _one(conn, "select user_id from marts.customers where orders > 0 and user_id not in (%s, %s)"
                            " order by user_id limit 1", (late, MONTH_MOVER))
    conn.execute("delete from raw.users where user_id = %s", (removed_buyer,))
    return {"late": late, "changed": changed, "removed": removed, "moved": moved, "removed_buyer": removed_buyer}


def _plant_the_appended_day(conn: psycopg.Connection, earlier: dict[str, int]) -> dict[str, int]:
    """The appended day's risky changes, no user changed or removed; returns the users they concern."""
    (newest,) = _one(conn, "select max(occurred_at) from raw.interactions")
    # the appended day is in the next month: a returning user's earlier months are carried over
    appended = newest + timedelta(days=25)
    # a buyer with one order orders again on the appended day
    (second_order,) = _one(conn, "select user_id from marts.customers where orders = 1 and user_id <> %s"
                           " order by user_id limit 1", (MONTH_MOVER,))
    conn.execute(PLANT_EVENTS, {"session": "second-order", "user_id": second_order, "at": appended})
    # a line of another customer's order delivered again
    (redelivered,) = conn.execute(
        """
        insert into raw.interactions (event_id, session_id, user_id, product_id, event_type, quantity, unit_price,
                                      order_id, recommendation_variant, occurred_at, loaded_at)
        select event_id, session_id, user_id, product_id, event_type, quantity, unit_price, order_id,
               recommendation_variant, occurred_at, (select max(loaded_at) from raw.interactions) + interval '2 hours'
        from raw.interactions
        where order_id is not null and user_id not in (%s, %s, %s)
        order by occurred_at desc, event_id limit 1
        returning user_id
        """,
        (second_order, earlier["late"], MONTH_MOVER),
    ).fetchone()
    # a new user signs up and visits; a visitor of October registers, signed up then
    conn.execute("insert into raw.users (user_id, email, full_name, country, channel, signup_at)"
                 " values (%s, 'new@example.com', 'New User', 'PT', 'organic', %s)", (NEW_USER, appended))
    conn.execute(PLANT_EVENTS, {"session": "new-user", "user_id": NEW_USER, "at": appended})
    conn.execute("insert into raw.users (user_id, email, full_name, country, channel, signup_at)"
                 " values (%s, 'visitor@example.com', 'Late Registered', 'PT', 'organic', '2023-10-01 08:00:00+00')",
                 (LATE_REGISTERED,))
    # the month mover's session gets a late event from before midnight
    conn.execute(PLANT_EVENTS.replace("unnest(array['view', 'purchase'])", "unnest(array['view'])"),
                 {"session": "month-mover", "user_id": MONTH_MOVER, "at": "2023-12-31 23:50:00+00"})
    (untouched,) = _one(conn, "select user_id from marts.customers where orders > 0 and user_id not in (%s, %s, %s, %s)"
                        " order by user_id desc limit 1", (second_order, earlier["late"], redelivered, MONTH_MOVER))
    return {"second_order": second_order, "untouched": untouched}


def _plant_a_wrong_cell(conn: psycopg.Connection, month_before: str, offset: int) -> tuple:
    """Adds `offset` to the revenue (which no rate reads) of the first stored cohort cell of a month
    before `month_before`; returns its key."""
    key = _one(conn, "select cohort_month, activity_month from marts.signup_cohorts where activity_month < %s"
                     " order by activity_month, cohort_month limit 1", (month_before,))
    conn.execute("update marts.signup_cohorts set revenue = revenue + %s"
                 " where (cohort_month, activity_month) = (%s, %s)", (offset, *key))
    return key


def _revenue(conn: psycopg.Connection, key: tuple) -> int:
    return _one(conn, "select revenue from marts.signup_cohorts where (cohort_month, activity_month) = (%s, %s)",
                key)[0]


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
        _plant_before_the_first_build(conn)
    build_ok(warehouse_env, dbt_home, full_refresh=True, select=CHAIN, exclude=NO_TESTS)

    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        users = _plant_user_changes(conn)
        # a cell of a month before every change: only counting it again mends it
        wrong = _plant_a_wrong_cell(conn, "2023-11-01", -1_000_000)
    build_ok(warehouse_env, dbt_home, select=CHAIN, exclude=NO_TESTS)

    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        assert _revenue(conn, wrong) >= 0
        users |= _plant_the_appended_day(conn, users)
        untouched_versions = _versions(conn, users["untouched"])
        # a cell of a month before the first changed one (December): carried over as stored
        carried = _plant_a_wrong_cell(conn, "2023-12-01", 1000)
    build_ok(warehouse_env, dbt_home, select=CHAIN, exclude=NO_TESTS)

    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        assert _revenue(conn, carried) >= 1000
        conn.execute("update marts.signup_cohorts set revenue = revenue - 1000"
                     " where (cohort_month, activity_month) = (%s, %s)", carried)
        customers = {user: row for user, *row in conn.execute(
            "select user_id, orders, country_code, full_name from marts.customers").fetchall()}
        assert customers[users["second_order"]][0] == 2
        assert customers[NEW_USER][0] == 1
        assert customers[users["changed"]][1:3] == ["JP", "Renamed"]
        assert users["removed"] not in customers and users["removed_buyer"] not in customers
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
        mover_months = [str(month) for (month,) in conn.execute(
            "select activity_month from intermediate.int_activity_aggregated_to_user_months where user_id = %s"
            " order by 1", (MONTH_MOVER,)).fetchall()]
        assert mover_months[0] == "2023-12-01", mover_months
        # the visitor registered late counts in October's cohort, in October
        (registered_visits,) = _one(conn, "select active_users from marts.signup_cohorts"
                                          " where cohort_month = '2023-10-01' and activity_month = '2023-10-01'")
        assert registered_visits >= 1
        _snapshot(conn)

    build_ok(warehouse_env, dbt_home, full_refresh=True, select=CHANGED, exclude=NO_TESTS)
    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        report = _differences(conn)
        conn.execute("drop schema userchain_snapshot cascade")
    assert all(diff == (0, 0) for diff in report.values()), f"incremental != full refresh: {report}"
