"""A small, deterministic synthetic shop written with SQL `generate_series`, for the warehouse tests
and benchmarks (independent of the simulator, so the dbt project can be proven on its own).

The plan of every delivery is written once to `synthetic.deliveries`; `load_chunk` then copies one
delivery chunk into `raw.interactions` in a shuffled order. The plan includes what the raw contract
allows and the warehouse must survive:

* duplicated deliveries of the same event (same batch, and again in a later batch, later loaded_at);
* late events (delivered one or two chunks after the chunk of their occurred day);
* out-of-order arrival inside a chunk;
* odd event_type spellings (' Add_To_Cart', 'VIEW ', 'Purchase');
* orders of several products (two purchase lines per checkout).

Chunk `c` is loaded at `start + (c + 1) * chunk_days` (plus a few seconds per row), so loaded_at is
monotonic across chunks as the raw contract's `default now()` makes it in production.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

EVENTS_PER_SESSION = 10


@dataclass(frozen=True)
class ShopSize:
    events: int = 20_000
    users: int = 300
    products: int = 60
    days: int = 30
    chunks: int = 6
    start: str = "2024-01-01"


def create_shop(conn: psycopg.Connection, size: ShopSize) -> None:
    """(Re)write users, products and the delivery plan; raw.interactions is emptied."""
    # A new shop: the marks of builds over the old one's raw rows no longer say anything.
    conn.execute("truncate raw.interactions, raw.served_recommendations, raw.users, raw.products, "
                 "shop_meta.warehouse_builds")
    conn.execute(
        """
        insert into raw.users (user_id, email, full_name, country, channel, signup_at)
        select g,
               'user' || g || '@example.com',
               'User ' || g,
               (array['DE', 'FR', 'US', 'GB', 'ES', 'IT'])[1 + g %% 6],
               (array['organic', 'paid_search', 'social', 'email', 'referral'])[1 + g %% 5],
               %(start)s::timestamptz - interval '120 days' + (g * 41 %% (%(days)s + 120)) * interval '1 day'
                   + (g * 7 %% 86400) * interval '1 second'
        from generate_series(1, %(users)s) as g
        """,
        {"start": size.start, "days": size.days, "users": size.users},
    )
    conn.execute(
        """
        insert into raw.products (product_id, sku, name, category, brand, price, created_at, updated_at)
        select g,
               'SKU-' || lpad(g::text, 6, '0'),
               'Product ' || g,
               (array['books', 'electronics', 'garden', 'kitchen', 'sports', 'toys'])[1 + g %% 6],
               (array['acme', 'globex', 'initech', 'umbrella'])[1 + g %% 4],
               (5 + (g * 37 %% 200) + 0.99)::numeric(10, 2),
               %(start)s::timestamptz - interval '365 days',
               %(start)s::timestamptz - interval '30 days'
        from generate_series(1, %(products)s) as g
        """,
        {"start": size.start, "products": size.products},
    )
    conn.execute("create schema if not exists synthetic")
    conn.execute("drop table if exists synthetic.deliveries")
    conn.execute(
        """
        create table synthetic.deliveries as
        with events as (
            select
                n,
                n / %(per_session)s as s,
                n %% %(per_session)s as step,
                -- hash-like, deterministic pseudo random numbers
                (n * 2654435761) %% 1000003 as h,
                ((n / %(per_session)s) * 40503) %% 1000003 as hs,
                least(%(days)s - 1, (n / %(per_session)s) * %(per_session)s * %(days)s / %(events)s) as day_no
            from generate_series(cast(0 as bigint), %(events)s - 1) as n
        ),
        typed as (
            select
                e.*,
                case when step < 6 then 'view' when step < 8 then 'add_to_cart' else 'purchase' end as kind,
                1 + hs %% %(users)s as user_id,
                1 + ((hs / 7 + step * 13 + h %% 3) %% %(products)s) as product_id,
                %(start)s::timestamptz + day_no * interval '1 day'
                    + (hs %% 80000) * interval '1 second' + step * interval '45 seconds' as occurred_at,
                least(%(chunks)s - 1, day_no * %(chunks)s / %(days)s) as natural_chunk
            from events as e
        ),
        planned as (
            select
                t.*,
                case
                    when h %% 17 = 0 then least(%(chunks)s - 1, natural_chunk + 1 + h %% 2)
                    else natural_chunk
                end as chunk_no
            from typed as t
        ),
        deliveries as (
            select p.*, 0 as copy_no from planned as p
            union all
            -- a redelivery in the same batch (identical loaded_at)
            select p.*, 1 as copy_no from planned as p where h %% 41 = 3
            union all
            -- a redelivery one or two chunks later (later loaded_at)
            select p.*, 2 as copy_no from planned as p where h %% 29 = 5
        )
        select
            md5('event-' || n)::uuid as event_id,
            md5('session-' || s)::uuid as session_id,
            user_id::bigint as user_id,
            product_id::bigint as product_id,
            case
                when h %% 7 = 1 and kind = 'add_to_cart' then ' Add_To_Cart'
                when h %% 7 = 1 and kind = 'view' then 'VIEW '
                when h %% 7 = 1 and kind = 'purchase' then 'Purchase'
                when h %% 11 = 2 and kind = 'add_to_cart' then 'add to cart'
                else kind
            end as event_type,
            case when kind = 'purchase' then 1 + h %% 3 else 1 end as quantity,
            (5 + (product_id * 37 %% 200) + 0.99 - case when h %% 5 = 0 then 1 else 0 end)::numeric(10, 2)
                as unit_price,
            case when kind = 'purchase' then md5('order-' || s)::uuid end as order_id,
            case when h %% 9 = 0 then (array['als', 'popularity'])[1 + h %% 2] end as recommendation_variant,
            occurred_at,
            case when copy_no = 2 then least(%(chunks)s - 1, chunk_no + 1 + h %% 2) else chunk_no end
                as chunk_no,
            n,
            copy_no
        from deliveries
        """,
        {
            "per_session": EVENTS_PER_SESSION,
            "days": size.days,
            "events": size.events,
            "users": size.users,
            "products": size.products,
            "chunks": size.chunks,
            "start": size.start,
        },
    )
    conn.execute("create index on synthetic.deliveries (chunk_no)")
    conn.execute("analyze synthetic.deliveries")


def load_chunk(conn: psycopg.Connection, size: ShopSize, chunk_no: int, *, upto: bool = False) -> int:
    """Copy one chunk of the plan (or every chunk <= chunk_no) into raw.interactions, shuffled.

    Several chunks are written one after the other, each shuffled: the table then lies in load
    order, as successive loads (and the simulator, which writes in time order) leave it. One
    shuffle over all chunks would scatter every day's rows over the whole table, so that reading
    a few recent days touched every page of the history.
    """
    op = "<=" if upto else "="
    cur = conn.execute(
        f"""
        insert into raw.interactions (
            event_id, session_id, user_id, product_id, event_type, quantity, unit_price,
            order_id, recommendation_variant, occurred_at, loaded_at
        )
        select
            event_id, session_id, user_id, product_id, event_type, quantity, unit_price,
            order_id, recommendation_variant, occurred_at,
            %(start)s::timestamptz + (chunk_no + 1) * %(chunk_days)s * interval '1 day'
                + case when copy_no = 1 then 0 else (n %% 3600) end * interval '1 second'
                + copy_no * interval '1 hour'
        from synthetic.deliveries
        where chunk_no {op} %(chunk)s
        order by chunk_no, md5(n::text || copy_no::text)
        """,
        {"start": size.start, "chunk_days": size.days / size.chunks, "chunk": chunk_no},
    )
    loaded = cur.rowcount
    # The API's log of served lists: one list before each recommended view (some redelivered in the
    # same batch), plus lists of a variant that never leads to an event ('knn'), loaded half an hour
    # after the chunk's events, so the two raw tables have different load times. The split they were
    # served under changes from chunk to chunk, and the first chunk's lists have none (logged before
    # the API recorded it).
    conn.execute(
        f"""
        insert into raw.served_recommendations (
            request_id, user_id, variant, model_id, strategy, product_ids, variant_weights, served_at, loaded_at
        )
        select
            md5('served-' || n)::uuid,
            user_id,
            coalesce(recommendation_variant, 'knn'),
            'model-1',
            'model',
            array[product_id, product_id + 1],
            case when chunk_no > 0 then jsonb_build_object('control', 1, 'treatment', chunk_no) end,
            occurred_at - interval '1 minute',
            %(start)s::timestamptz + (chunk_no + 1) * %(chunk_days)s * interval '1 day'
                + (n %% 3600) * interval '1 second' + interval '30 minutes'
        from synthetic.deliveries
        where
            chunk_no {op} %(chunk)s
            and copy_no in (0, 1)
            and ((recommendation_variant is not null and lower(trim(event_type)) = 'view') or n %% 97 = 0)
            and not (n %% 41 = 0 and recommendation_variant is not null)
        """,
        {"start": size.start, "chunk_days": size.days / size.chunks, "chunk": chunk_no},
    )
    # Every 41st recommended view follows a list served 20 hours before it instead, mostly the day
    # before, and loaded with the chunk before the view's (when it was served by then): the view
    # arrives a load later and clicks a list of a day already built.
    conn.execute(
        f"""
        insert into raw.served_recommendations (
            request_id, user_id, variant, model_id, strategy, product_ids, variant_weights, served_at, loaded_at
        )
        select
            md5('early-' || n)::uuid,
            user_id,
            recommendation_variant,
            'model-1',
            'model',
            array[product_id, product_id + 2],
            jsonb_build_object('control', 1, 'treatment', 1),
            occurred_at - interval '20 hours',
            %(start)s::timestamptz + chunk_no * %(chunk_days)s * interval '1 day' + interval '45 minutes'
        from synthetic.deliveries
        where
            chunk_no - 1 {op} %(chunk)s
            and copy_no = 0
            and n %% 41 = 0
            and recommendation_variant is not null
            and lower(trim(event_type)) = 'view'
            and occurred_at - interval '20 hours'
                < %(start)s::timestamptz + chunk_no * %(chunk_days)s * interval '1 day'
        """,
        {"start": size.start, "chunk_days": size.days / size.chunks, "chunk": chunk_no},
    )
    return loaded
