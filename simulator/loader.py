"""Bulk loading into PostgreSQL: COPY streamed in chunks, one transaction per load.

A load either commits whole or leaves the database as it was (a killed process rolls back), and
memory stays flat because event batches are encoded and sent one at a time.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import psycopg
import pyarrow as pa
from pyarrow import compute as pc
from pyarrow import csv as pa_csv
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from shopcore.copy_binary import (
    BINARY_COPY_TYPES,
    COPY_INTERACTIONS_SQL,
    HEADER,
    TRAILER,
    encode_interactions,
    encode_rows,
)
from shopcore.errors import ShopError

# Bytes handed to libpq per write: big enough to amortise calls, small enough to keep memory flat.
_WRITE_CHUNK = 4 << 20
_SLICE_ROWS = 50_000  # rows per slice of a world table (each slice is encoded whole: peak memory)
RAW_TABLES = ("raw.interactions", "raw.users", "raw.products")
TRUTH_TABLES = (
    "truth.users",
    "truth.categories",
    "truth.user_category_affinity",
    "truth.user_brand_affinity",
    "truth.products",
    "truth.user_taste",
    "truth.product_taste",
    "truth.product_complements",
    "truth.product_prices",
    "truth.simulation_runs",
    "truth.incidents",
)


@dataclass(frozen=True)
class RawState:
    events: int
    users: int
    products: int
    last_occurred_at: datetime | None
    last_run: Mapping | None


def raw_state(conn: psycopg.Connection) -> RawState:
    events, last = conn.execute("select count(*), max(occurred_at) from raw.interactions").fetchone()
    users = conn.execute("select count(*) from raw.users").fetchone()[0]
    products = conn.execute("select count(*) from raw.products").fetchone()[0]
    run = conn.execute(
        """
        select run_id, seed, parameters, mode, window_start, window_end, events
        from truth.simulation_runs order by run_id desc limit 1
        """
    ).fetchone()
    last_run = None
    if run is not None:
        keys = ("run_id", "seed", "parameters", "mode", "window_start", "window_end", "events")
        last_run = dict(zip(keys, run))
    return RawState(events, users, products, last, last_run)


def _arrow_column(values: np.ndarray) -> pa.Array:
    """A numpy column as Arrow: datetime64 as UTC timestamps, float NaN as null."""
    if np.issubdtype(values.dtype, np.datetime64):
        return pa.array(values.astype("datetime64[us]"), type=pa.timestamp("us", tz="UTC"))
    if values.dtype == object:
        return pa.array(values.tolist())
    if values.ndim == 2:  # one array per row, as PostgreSQL's text form {a,b,...}
        n, d = values.shape
        text = pc.cast(pa.array(values.reshape(-1)), pa.string())
        rows = pa.ListArray.from_arrays(pa.array(np.arange(0, n * d + 1, d, dtype=np.int32)), text)
        return pc.binary_join_element_wise("{", pc.binary_join(rows, ","), "}", "")
    return pa.array(values, from_pandas=True)


def _column_types(conn: psycopg.Connection, table: str) -> dict[str, str]:
    rows = conn.execute(
        """
        select attname, format_type(atttypid, atttypmod) from pg_attribute
        where attrelid = %s::regclass and attnum > 0 and not attisdropped
        """,
        (table,),
    ).fetchall()
    return dict(rows)


def write_columns(conn: psycopg.Connection, table: str, columns: Mapping[str, np.ndarray]) -> int:
    """COPY a table given as named numpy columns (users, products, truth tables), in slices so
    that millions of rows (the truth of a big shop) stream in flat memory: binary when every
    column's type has a binary encoder (the server parses no text), else CSV written by Arrow."""
    names = list(columns)
    if not names:
        return 0
    schema, _, relation = table.partition(".")
    types = _column_types(conn, table)
    pg_types = [types[name] for name in names]
    binary = all(t in BINARY_COPY_TYPES for t in pg_types)
    statement = sql.SQL("copy {} ({}) from stdin (format {})").format(
        sql.Identifier(schema, relation), sql.SQL(", ").join(map(sql.Identifier, names)),
        sql.SQL("binary" if binary else "csv"),
    )
    n = len(np.asarray(columns[names[0]]))
    options = pa_csv.WriteOptions(include_header=False)
    with conn.cursor() as cur, cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
        if binary:
            copy.write(HEADER)
        for a in range(0, n, _SLICE_ROWS):
            if binary:
                copy.write(encode_rows([np.asarray(columns[name])[a:a + _SLICE_ROWS] for name in names], pg_types))
                continue
            part = pa.table({name: _arrow_column(np.asarray(columns[name])[a:a + _SLICE_ROWS]) for name in names})
            sink = pa.BufferOutputStream()
            pa_csv.write_csv(part, sink, options)
            copy.write(sink.getvalue().to_pybytes())
        if binary:
            copy.write(TRAILER)
    return n


def _interaction_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    return conn.execute(
        """
        select indexname, indexdef from pg_indexes
        where schemaname = 'raw' and tablename = 'interactions'
        """
    ).fetchall()


@contextlib.contextmanager
def _bulk_into_empty(conn: psycopg.Connection, table: str) -> Iterator[None]:
    """Around a load into `table` when it is empty (else nothing): the table is truncated (a new
    file, so with wal_level=minimal nothing goes to the WAL) and its keys and indexes are dropped,
    then rebuilt after the load, all inside the caller's transaction. Building an index once is
    far cheaper than maintaining it row by row, and truncating an empty table changes nothing."""
    schema, _, relation = table.partition(".")
    ident = sql.Identifier(schema, relation)
    if not conn.execute(sql.SQL("select not exists (select 1 from {})").format(ident)).fetchone()[0]:
        yield
        return
    conn.execute(sql.SQL("truncate {}").format(ident))
    keys = conn.execute(
        """
        select conname, pg_get_constraintdef(oid) from pg_constraint
        where conrelid = %s::regclass and contype in ('p', 'u')
        """,
        (table,),
    ).fetchall()
    indexes = conn.execute(
        """
        select index.relname, pg_get_indexdef(index.oid) from pg_index
        join pg_class as index on index.oid = pg_index.indexrelid
        where pg_index.indrelid = %s::regclass
          and not exists (select 1 from pg_constraint where conindid = pg_index.indexrelid)
        """,
        (table,),
    ).fetchall()
    for name, _ in keys:
        conn.execute(sql.SQL("alter table {} drop constraint {}").format(ident, sql.Identifier(name)))
    for name, _ in indexes:
        conn.execute(sql.SQL("drop index {}").format(sql.Identifier(schema, name)))
    yield
    # The catalogue's own definitions, not user input.
    for name, definition in keys:
        conn.execute(sql.SQL("alter table {} add constraint {} ").format(ident, sql.Identifier(name))
                     + sql.SQL(definition))
    for _, definition in indexes:
        conn.execute(sql.SQL(definition))


def copy_events(
    conn: psycopg.Connection,
    batches: Iterable,
    *,
    on_batch: Callable[[object, int], None] | None = None,
    bulk: bool = False,
) -> int:
    """Stream event batches into raw.interactions with one binary COPY; returns the rows written.

    bulk=True is for a load into an empty table (`_bulk_into_empty`: no WAL, indexes built once
    after the COPY), inside the caller's transaction.
    """
    total = 0
    with contextlib.ExitStack() as stack:
        if bulk:
            stack.enter_context(_bulk_into_empty(conn, "raw.interactions"))
        with conn.cursor() as cur:
            with cur.copy(COPY_INTERACTIONS_SQL, writer=QueuedLibpqWriter(cur)) as copy:
                copy.write(HEADER)
                for batch in batches:
                    data = encode_interactions(batch)
                    view = memoryview(data)
                    for offset in range(0, len(view), _WRITE_CHUNK):
                        copy.write(view[offset : offset + _WRITE_CHUNK])
                    total += len(batch)
                    if on_batch is not None:
                        on_batch(batch, total)
                copy.write(TRAILER)
    return total


def truncate_simulated_data(conn: psycopg.Connection) -> None:
    tables = [sql.Identifier(*name.split(".")) for name in RAW_TABLES + TRUTH_TABLES]
    conn.execute(sql.SQL("truncate {}").format(sql.SQL(", ").join(tables)))


def record_run(
    conn: psycopg.Connection,
    *,
    seed: int,
    parameters: Mapping,
    mode: str,
    window_start: datetime,
    window_end: datetime,
    events: int,
) -> int:
    return conn.execute(
        """
        insert into truth.simulation_runs (seed, parameters, mode, window_start, window_end, events)
        values (%s, %s, %s, %s, %s, %s) returning run_id
        """,
        (seed, json.dumps(parameters, default=str), mode, window_start, window_end, events),
    ).fetchone()[0]


def copy_world_rows(conn: psycopg.Connection, world, user_ids: np.ndarray | None = None) -> None:
    """raw.users, raw.products and the truth tables of `world`; only the users `user_ids` when
    given (users added by a live stream or an append): their raw.users and truth rows, gathered
    without a pass over the other users, and nothing of the catalogue."""
    if user_ids is not None:
        index = np.asarray(user_ids, dtype=np.int64) - 1  # user ids are 1..n_users
        write_columns(conn, "raw.users", world.users_table(index))
        truth = world.user_truth_tables(index)
        affinity = truth["user_category_affinity"]
        affinity["affinity"] = affinity["affinity"][:, _stored_category_order(conn, world)]
        for table, columns in truth.items():
            write_columns(conn, f"truth.{table}", columns)
        return
    tables = {"raw.users": world.users_table(), "raw.products": products_rows(world),
              **{f"truth.{table}": columns for table, columns in world.truth_tables().items()}}
    for table, columns in tables.items():
        with _bulk_into_empty(conn, table):
            write_columns(conn, table, columns)


def _stored_category_order(conn: psycopg.Connection, world) -> np.ndarray:
    """The world's category indices in the order of truth.categories' positions, so that new users'
    arrays line up with the stored ones (a shop migrated to arrays numbers its categories by name)."""
    stored = [name for (name,) in conn.execute("select category from truth.categories order by category_index")]
    names = [str(name) for name in world.category_names]
    if not stored:  # written before the categories were: number them as the world does
        write_columns(conn, "truth.categories", world.categories_table())
        return np.arange(len(names))
    if sorted(stored) != sorted(names):
        raise ShopError("truth.categories does not hold this shop's categories: it was not written by this "
                        "simulator. Run `shop simulate --reset` to start a new shop.")
    return np.array([names.index(name) for name in stored], dtype=np.int64)


def products_rows(world) -> dict[str, np.ndarray]:
    """raw.products columns; the price goes as exact decimal text (cents / 100)."""
    columns = dict(world.products_table())
    cents = columns.pop("price_cents").astype(np.int64)
    columns["price"] = np.array([f"{c // 100}.{c % 100:02d}" for c in cents.tolist()], dtype=object)
    return columns


@dataclass(frozen=True)
class LoadResult:
    events: int
    users: int
    products: int
    window_start: datetime
    window_end: datetime
    seconds: float
    run_id: int
    incidents: tuple = ()  # simulator.injection.Injected, when the load injected any


def load_history(
    conn: psycopg.Connection,
    world,
    batches: Iterable,
    *,
    mode: str,
    window_start: datetime,
    window_end: datetime,
    reset: bool = False,
    new_user_ids: np.ndarray | None = None,
    on_batch: Callable[[object, int], None] | None = None,
    in_transaction: Callable[[psycopg.Connection, int], None] | None = None,
) -> LoadResult:
    """One transaction: (reset,) world rows, every event batch, the run record. All or nothing.

    ``in_transaction(conn, run_id)`` writes more in the same transaction after the run record (the
    injected incidents).

    mode "history" writes the whole world into an empty database (or one emptied by reset);
    mode "append" writes only the users in `new_user_ids` and keeps the table's indexes.
    """
    started = time.perf_counter()
    with conn.transaction():
        conn.execute("set local timezone = 'UTC'")
        if reset:
            truncate_simulated_data(conn)
        if mode == "history":
            copy_world_rows(conn, world)
            users, products = world.n_users, world.n_products
        else:
            ids = new_user_ids if new_user_ids is not None else np.empty(0, dtype=np.int64)
            if len(ids):
                copy_world_rows(conn, world, ids)
            users, products = len(ids), 0
        bulk = conn.execute("select not exists (select 1 from raw.interactions)").fetchone()[0]
        events = copy_events(conn, batches, on_batch=on_batch, bulk=bulk)
        run_id = record_run(
            conn,
            seed=world.params.seed,
            parameters=world.params.to_json_dict(),
            mode=mode,
            window_start=window_start,
            window_end=window_end,
            events=events,
        )
        if in_transaction is not None:
            in_transaction(conn, run_id)
    return LoadResult(events, users, products, window_start, window_end, time.perf_counter() - started, run_id)
