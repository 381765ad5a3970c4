"""The live integration's write path: the shop's products and users into raw.products / raw.users
(PUT /products/{id}, POST /products, PUT /users/{id}), and the product rows the API's catalogue
follows.

An upsert changes only the fields the request has (an omitted field keeps its value; null makes it
unknown) and moves ``updated_at``. The statements are composed with psycopg.sql from the models'
field names (a fixed list), never from the request's text; every value is a parameter.

The catalogue reads products back through ``staging.stg_shop__products`` (dbt's view over
raw.products): the same normalisation (trimmed names, lower-case categories, 'unknown' for a
missing category) the warehouse applies, with one home. Every worker polls that view for rows whose
``updated_at`` is past what it saw; the worker that handled a write applies the rows at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

import psycopg
from psycopg import sql

from recommender.api.schemas import ProductIn, ProductOut, UserIn, UserOut

OVERLAP_S = 2.0  # a transaction's now() is its start: re-read this much before the newest row seen

_PRODUCT_FIELDS = ("name", "category", "brand", "price", "active")
_USER_FIELDS = ("email", "full_name", "country", "channel", "signup_at")
_PRODUCT_OUT = "product_id, sku, name, category, brand, price::float8, active, (xmax = 0) as created, updated_at"
_USER_OUT = "user_id, email, full_name, country, channel, signup_at, (xmax = 0) as created"


class ProductRow(NamedTuple):
    """A product as the warehouse's staging view shows it (normalised)."""

    product_id: int
    name: str | None
    category: str
    brand: str | None
    price: float | None
    active: bool
    updated_at: datetime


def _upsert(table: str, key: str, key_value: int, values: dict[str, Any], defaults: dict[str, sql.Composable],
            returning: str, touch: bool) -> sql.Composed:
    """insert ... on conflict (key) do update set <the given fields> [, updated_at = now()]."""
    columns = [key, *values]
    placeholders = [sql.Placeholder(key), *(sql.Placeholder(c) for c in values)]
    for column, default in defaults.items():
        if column not in values:
            columns.append(column)
            placeholders.append(default)
    updates = [sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in values]
    if touch:
        updates.append(sql.SQL("updated_at = now()"))
    action = sql.SQL("do update set {}").format(sql.SQL(", ").join(updates)) if updates else sql.SQL(
        "do update set {0} = excluded.{0}").format(sql.Identifier(key))  # a no-op update: returns the row
    return sql.SQL("insert into {table} as t ({columns}) values ({values}) on conflict ({key}) {action} "
                   "returning {returning}").format(
        table=sql.Identifier("raw", table), columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        values=sql.SQL(", ").join(placeholders), key=sql.Identifier(key), action=action,
        returning=sql.SQL(returning))


async def upsert_products(conn: psycopg.AsyncConnection, items: list[tuple[int, ProductIn]]) -> list[ProductOut]:
    """Upsert each (product_id, attributes) in the connection's transaction; the rows as written."""
    out = []
    for product_id, product in items:
        values = {f: getattr(product, f) for f in _PRODUCT_FIELDS if f in product.model_fields_set}
        statement = _upsert("products", "product_id", product_id, values,
                            {"created_at": sql.SQL("now()"), "updated_at": sql.SQL("now()")},
                            _PRODUCT_OUT, touch=True)
        row = await (await conn.execute(statement, {"product_id": product_id, **values})).fetchone()
        out.append(ProductOut(**dict(zip(ProductOut.model_fields, row))))
    return out


async def upsert_user(conn: psycopg.AsyncConnection, user_id: int, user: UserIn) -> UserOut:
    values = {f: getattr(user, f) for f in _USER_FIELDS if f in user.model_fields_set}
    if values.get("signup_at", 0) is None:  # signup_at is never unknown: null keeps it
        del values["signup_at"]
    statement = _upsert("users", "user_id", user_id, values, {"signup_at": sql.SQL("now()")}, _USER_OUT,
                        touch=False)
    row = await (await conn.execute(statement, {"user_id": user_id, **values})).fetchone()
    return UserOut(**dict(zip(UserOut.model_fields, row)))


# ---------------------------------------------------------------- the catalogue's view of products

_STAGING_READY = """
    select exists (select 1 from information_schema.columns
                   where table_schema = 'staging' and table_name = 'stg_shop__products' and column_name = 'active')
"""
_PRODUCTS_SINCE = """
    select product_id, product_name, category, brand, list_price::float8, active, updated_at
    from staging.stg_shop__products
    where %s::timestamptz is null or updated_at > %s::timestamptz
    order by updated_at, product_id
"""
_PRODUCTS_BY_ID = """
    select product_id, product_name, category, brand, list_price::float8, active, updated_at
    from staging.stg_shop__products
    where product_id = any(%s)
"""


async def staging_ready(conn: psycopg.AsyncConnection) -> bool:
    """Whether the warehouse's view of raw.products exists with its `active` column (after `shop build`)."""
    return bool((await (await conn.execute(_STAGING_READY)).fetchone())[0])


async def products_by_id(conn: psycopg.AsyncConnection, product_ids: list[int]) -> list[ProductRow]:
    if not await staging_ready(conn):
        return []
    return [ProductRow(*r) for r in await (await conn.execute(_PRODUCTS_BY_ID, (product_ids,))).fetchall()]


async def current_products(conn: psycopg.AsyncConnection) -> list[ProductRow]:
    """Every product as raw.products holds it now (through staging); none before the first build."""
    if not await staging_ready(conn):
        return []
    return [ProductRow(*r) for r in await (await conn.execute(_PRODUCTS_SINCE, (None, None))).fetchall()]


class ProductPoll:
    """Product rows changed since the last poll (``updated_at`` past the newest seen, less an overlap
    for transactions that committed late); the first poll reads them all."""

    def __init__(self) -> None:
        self.newest: datetime | None = None

    async def read(self, conn: psycopg.AsyncConnection) -> list[ProductRow]:
        if not await staging_ready(conn):
            return []
        since = None if self.newest is None else self.newest - timedelta(seconds=OVERLAP_S)
        rows = [ProductRow(*r) for r in await (await conn.execute(_PRODUCTS_SINCE, (since, since))).fetchall()]
        if rows:
            self.newest = rows[-1].updated_at if self.newest is None else max(self.newest, rows[-1].updated_at)
        return rows
