"""Training data from the warehouse: the marts the recommender reads, as numpy columns.

Rows come over binary COPY and are decoded by numpy in bulk (every column is fixed-width and
NOT NULL), not by a Python loop per row: the interaction mart has millions of rows.

* ``marts.user_item_interactions``: training on all data (``load_interactions``)
* ``marts.interaction_events``: event times, for the temporal split (``load_events``)
* ``marts.products``: the catalogue and its categories (``load_catalogue``)
* ``truth.user_product_affinity``: the simulator's ground truth, when present (``truth_loader``)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import psycopg
from psycopg import sql

from recommender.matrix import Catalogue, Events, IdMap, Interactions
from shopcore.copy_binary import from_pg_timestamps as unix_us
from shopcore.copy_binary import read_columns
from shopcore.errors import ShopError

EMPTY_HINT = "Run `shop simulate` to make a shop, then `shop build` to build the warehouse."


def _relation_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


def require_mart(conn: psycopg.Connection, name: str) -> None:
    if not _relation_exists(conn, name):
        raise ShopError(f"The warehouse has no {name} yet. {EMPTY_HINT}")


def load_interactions(conn: psycopg.Connection) -> Interactions:
    """All of ``marts.user_item_interactions``; the watermark is the newest ``max_loaded_at``.

    The re-buy timing reads ``first_purchase_at``, ``last_purchase_at`` and
    ``last_purchase_units`` (NULL when never bought: the interaction times and 0 stand in, and
    are never read).
    """
    require_mart(conn, "marts.user_item_interactions")
    query = sql.SQL("""
        select user_id, product_id, views, add_to_carts, purchases, coalesce(units_purchased, 0),
               first_interaction_at, last_interaction_at, max_loaded_at,
               coalesce(first_purchase_at, first_interaction_at), coalesce(last_purchase_at, last_interaction_at),
               coalesce(last_purchase_units, 0)
        from marts.user_item_interactions
        where user_id is not null and product_id is not null
    """)
    (user, product, views, carts, purchases, units, first, last, loaded,
     first_buy, last_buy, last_units) = read_columns(conn, query, ["i8"] * 12)
    if len(user) == 0:
        raise ShopError(f"marts.user_item_interactions is empty: there is nothing to learn from. {EMPTY_HINT}")
    return Interactions(
        user_id=user, product_id=product, views=views, add_to_carts=carts, purchases=purchases,
        units_purchased=units, first_us=unix_us(first), last_us=unix_us(last),
        watermark_us=int(unix_us(loaded).max()), first_purchase_us=unix_us(first_buy),
        last_purchase_us=unix_us(last_buy), last_purchase_units=last_units,
    )


def load_events(conn: psycopg.Connection) -> Events:
    """All of ``marts.interaction_events`` (de-duplicated by the warehouse), event types coded
    0 view, 1 add_to_cart, 2 purchase."""
    require_mart(conn, "marts.interaction_events")
    query = sql.SQL("""
        select user_id, product_id,
               (case event_type when 'view' then 0 when 'add_to_cart' then 1 else 2 end)::int2,
               coalesce(quantity, 1)::int4, occurred_at, loaded_at
        from marts.interaction_events
        where event_type in ('view', 'add_to_cart', 'purchase')
    """)
    user, product, kind, qty, occurred, loaded = read_columns(conn, query, ["i8", "i8", "i2", "i4", "i8", "i8"])
    if len(user) == 0:
        raise ShopError(f"marts.interaction_events is empty: there is nothing to evaluate on. {EMPTY_HINT}")
    return Events(user_id=user, product_id=product, event_type=kind.astype(np.int8), quantity=qty,
                  occurred_us=unix_us(occurred), loaded_us=unix_us(loaded))


def load_catalogue(conn: psycopg.Connection) -> Catalogue:
    require_mart(conn, "marts.products")
    rows = conn.execute("select product_id, coalesce(category, ''), coalesce(brand, ''), list_price::float8 "
                        "from marts.products order by product_id").fetchall()
    return Catalogue(
        product_id=np.array([r[0] for r in rows], dtype=np.int64),
        category=np.array([r[1] for r in rows], dtype=str),
        brand=np.array([r[2] for r in rows], dtype=str),
        price=np.array([np.nan if r[3] is None else r[3] for r in rows], dtype=np.float64),
    )


def truth_loader(conn: psycopg.Connection) -> Callable[[np.ndarray, IdMap], np.ndarray] | None:
    """A function returning the simulator's true affinities for some users, or None when the
    database holds no ground truth (a real shop)."""
    if not _relation_exists(conn, "truth.user_product_affinity"):
        return None
    if conn.execute("select not exists (select 1 from truth.users)").fetchone()[0]:
        return None

    def truth(user_ids: np.ndarray, items: IdMap) -> np.ndarray:
        ids = np.asarray(user_ids, dtype=np.int64)
        out = np.full((len(ids), len(items)), np.nan, dtype=np.float32)
        query = sql.SQL(
            "select user_id, product_id, affinity::float8 from truth.user_product_affinity "
            "where user_id = any({}) and affinity is not null"
        ).format(sql.Literal(ids.tolist()))
        user, product, affinity = read_columns(conn, query, ["i8", "i8", "f8"])
        row = np.searchsorted(ids, user) if np.all(np.diff(ids) > 0) else _positions(ids, user)
        col = items.index(product)
        ok = col >= 0
        out[row[ok], col[ok]] = affinity[ok]
        return out

    return truth


def _positions(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    order = np.argsort(ids)
    return order[np.searchsorted(ids[order], values)]
