"""Anomalies planted with SQL into a simulated shop's raw tables, one of each kind the warehouse's
anomaly checks look for (dbt_project/models/monitoring/alerts.sql), days apart so that each alert
can be told from the others. `plant` returns what it planted: which check must fire, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from tests.support import dbt_var


@dataclass(frozen=True)
class Planted:
    name: str
    start: datetime
    end: datetime
    metrics: tuple[str, ...]  # alert metrics (prefixes) that must fire, overlapping [start, end)


def plant(conn: psycopg.Connection, end: datetime) -> list[Planted]:
    """Plant every anomaly into a shop whose history ends at midnight `end`; the last three weeks."""
    day = lambda back, hour=0: end - timedelta(days=back) + timedelta(hours=hour)  # noqa: E731
    smallest = smallest_category(conn)
    planted = [
        Planted("tracking outage", day(20, 8), day(20, 20), ("events: view", "arrivals: raw.interactions")),
        Planted("duplicate storm", day(17, 10), day(17, 13), ("duplicate deliveries",)),
        Planted("small category stopped", day(16), day(15), (f"visitors in category: {smallest}",)),
        Planted("late burst", day(14), day(13), ("late arrivals", "arrivals: raw.interactions")),
        Planted("price bug", day(11), day(10), ("average price",)),
        Planted("checkout break", day(8), day(7), ("buyers per carting visitor", "conversion", "revenue")),
        Planted("bot traffic", day(5, 9), day(5, 15), ("views per viewer", "views of the heaviest viewer")),
        Planted("checkout break over a night", day(4, 12), day(3, 12), ("buyers per carting visitor",)),
        Planted("cart tracking lost", day(2), day(1), ("cart rate", "events: add_to_cart")),
    ]
    windows = {p.name: (p.start, p.end) for p in planted}
    # a small category's events stop for a day (the shop's total hardly moves)
    conn.execute("delete from raw.interactions where occurred_at >= %s and occurred_at < %s and product_id in "
                 "(select product_id from raw.products where lower(trim(category)) = %s)",
                 (*windows["small category stopped"], smallest))
    # purchases stop from noon to noon while carts go on (at the night's low rate): half of each
    # day's orders, which the daily conversion takes for an ordinary swing
    conn.execute("delete from raw.interactions where lower(trim(event_type)) = 'purchase' "
                 "and occurred_at >= %s and occurred_at < %s", windows["checkout break over a night"])
    conn.execute("delete from raw.interactions where occurred_at >= %s and occurred_at < %s",
                 windows["tracking outage"])
    conn.execute(
        """
        insert into raw.interactions
            (event_id, session_id, user_id, product_id, event_type, quantity, unit_price, order_id,
             recommendation_variant, occurred_at, loaded_at)
        select event_id, session_id, user_id, product_id, event_type, quantity, unit_price, order_id,
               recommendation_variant, occurred_at, loaded_at + copy * interval '1 minute'
        from raw.interactions, generate_series(1, 3) as copy
        where loaded_at >= %s and loaded_at < %s
        """,
        windows["duplicate storm"],
    )
    conn.execute("update raw.interactions set loaded_at = occurred_at + interval '3 days' "
                 "where occurred_at >= %s and occurred_at < %s", windows["late burst"])
    conn.execute(
        """
        update raw.interactions set unit_price = unit_price * 100
        where occurred_at >= %s and occurred_at < %s
          and product_id in (
              select product_id from raw.products
              where category = (select category from raw.products group by category order by count(*) desc limit 1)
          )
        """,
        windows["price bug"],
    )
    conn.execute("delete from raw.interactions where lower(trim(event_type)) = 'purchase' "
                 "and occurred_at >= %s and occurred_at < %s", windows["checkout break"])
    conn.execute("delete from raw.interactions where lower(trim(event_type)) = 'add_to_cart' "
                 "and occurred_at >= %s and occurred_at < %s", windows["cart tracking lost"])
    start, stop = windows["bot traffic"]
    conn.execute(
        """
        insert into raw.interactions
            (event_id, session_id, user_id, product_id, event_type, quantity, unit_price, occurred_at, loaded_at)
        select gen_random_uuid(), gen_random_uuid(), (select min(user_id) from raw.users),
               product_id, 'view', 1, price, moment, moment + interval '2 seconds'
        from (
            select %(start)s::timestamptz + (n * %(step)s) * interval '1 second' as moment,
                   (select product_id from raw.products order by product_id offset n %% 50 limit 1) as product_id
            from generate_series(0, 2999) as n
        ) as bot
        join raw.products using (product_id)
        """,
        {"start": start, "step": (stop - start).total_seconds() / 3000},
    )
    return planted


def smallest_category(conn: psycopg.Connection) -> str:
    """The category with the fewest visitors among those the check can judge (as the checks name it:
    trimmed, lower case): at least alert_min_expected visitors on an average day, the project's floor
    for a count worth judging. A day's stop of a smaller one is zero where a handful were due, which
    chance gives too often for the category check (Bonferroni-raised over the categories) to call."""
    return conn.execute(
        """
        select lower(trim(products.category)) from raw.interactions join raw.products using (product_id)
        group by 1
        having count(distinct (raw.interactions.user_id, date_trunc('day', raw.interactions.occurred_at)))
            >= %s * (extract(epoch from max(raw.interactions.occurred_at) - min(raw.interactions.occurred_at)) / 86400)
        order by count(distinct raw.interactions.user_id), 1 limit 1
        """,
        (dbt_var("alert_min_expected"),),
    ).fetchone()[0]
