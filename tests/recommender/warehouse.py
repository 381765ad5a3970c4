"""Stand-in marts for the recommender's database tests: the tables the warehouse builds
(same names and columns as the dbt contract), filled from in-memory events, so that these
tests exercise the recommender's SQL without running dbt."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import numpy as np
import psycopg

from recommender.matrix import Catalogue, Events
from shopcore.events import EVENT_TYPES

DDL = """
create schema if not exists marts;
drop table if exists marts.interaction_events, marts.user_item_interactions, marts.products;
create table marts.interaction_events (
    event_id uuid not null, session_id uuid not null, user_id bigint not null, product_id bigint not null,
    event_type text not null, quantity integer not null, unit_price numeric(10, 2) not null, order_id uuid,
    occurred_at timestamptz not null, loaded_at timestamptz not null);
create table marts.products (product_id bigint primary key, product_name text, category text, brand text,
                            list_price numeric(10, 2));
create table marts.user_item_interactions (
    user_id bigint not null, product_id bigint not null, views bigint, add_to_carts bigint, purchases bigint,
    units_purchased bigint, first_interaction_at timestamptz, last_interaction_at timestamptz,
    feedback_score numeric(18, 4), max_loaded_at timestamptz, first_purchase_at timestamptz,
    last_purchase_at timestamptz, last_purchase_units bigint, primary key (user_id, product_id));
"""

BUILD_PAIRS = """
insert into marts.user_item_interactions
    (user_id, product_id, views, add_to_carts, purchases, units_purchased, first_interaction_at,
     last_interaction_at, feedback_score, max_loaded_at, first_purchase_at, last_purchase_at, last_purchase_units)
select user_id, product_id,
       count(*) filter (where event_type = 'view'), count(*) filter (where event_type = 'add_to_cart'),
       count(*) filter (where event_type = 'purchase'),
       coalesce(sum(quantity) filter (where event_type = 'purchase'), 0),
       min(occurred_at), max(occurred_at), 0, max(loaded_at),
       min(occurred_at) filter (where event_type = 'purchase'), max(last_purchase_at),
       sum(quantity) filter (where event_type = 'purchase' and occurred_at = last_purchase_at)
from (select *, max(occurred_at) filter (where event_type = 'purchase')
                    over (partition by user_id, product_id) as last_purchase_at
      from marts.interaction_events) as events
group by user_id, product_id
"""


def _ts(us: int) -> datetime:
    return datetime.fromtimestamp(int(us) // 1_000_000, timezone.utc).replace(microsecond=int(us) % 1_000_000)


def create_marts(conn: psycopg.Connection, events: Events | None, catalogue: Catalogue | None) -> None:
    conn.execute(DDL)
    if catalogue is not None:
        brands = catalogue.brand if catalogue.brand is not None else ["brand"] * len(catalogue.product_id)
        prices = catalogue.price if catalogue.price is not None else [None] * len(catalogue.product_id)
        with conn.cursor().copy("copy marts.products (product_id, product_name, category, brand, list_price) "
                                "from stdin") as copy:
            for pid, cat, brand, price in zip(catalogue.product_id.tolist(), catalogue.category.tolist(),
                                              list(brands), list(prices)):
                copy.write_row((pid, f"product {pid}", cat, str(brand), None if price is None else float(price)))
    if events is not None:
        columns = "event_id, session_id, user_id, product_id, event_type, quantity, unit_price, occurred_at, loaded_at"
        with conn.cursor().copy(f"copy marts.interaction_events ({columns}) from stdin") as copy:
            for u, p, t, q, o, lo in zip(events.user_id.tolist(), events.product_id.tolist(),
                                         events.event_type.tolist(), events.quantity.tolist(),
                                         events.occurred_us.tolist(), events.loaded_us.tolist()):
                copy.write_row((uuid.uuid4(), uuid.uuid4(), u, p, EVENT_TYPES[t], q, 9.99, _ts(o), _ts(lo)))
        conn.execute(BUILD_PAIRS)
    conn.commit()


def sorted_events(e: Events) -> Events:
    order = np.lexsort((e.event_type, e.occurred_us, e.product_id, e.user_id))
    return e.take(order)
