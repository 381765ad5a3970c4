"""Bulk loading into PostgreSQL: COPY streamed in chunks, one transaction per load.

A load either commits whole or leaves the database as it was (a killed process rolls back), and
memory stays flat because event batches are encoded and sent one at a time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import psycopg
import pyarrow as pa
from pyarrow import compute as pc
from pyarrow import csv as pa_csv
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from shopcore.copy_binary import COPY_INTERACTIONS_SQL, HEADER, TRAILER, encode_interactions

# Bytes handed to libpq per write: big enough to amortise calls, small enough to keep memory flat.
_WRITE_CHUNK = 4 << 20
_CSV_ROWS = 200_000  # rows per CSV slice of a world table
RAW_TABLES = ("raw.interactions", "raw.users", "raw.products")
TRUTH_TABLES = (
    "truth.users",
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


def write_columns(conn: psycopg.Connection, table: str, columns: Mapping[str, np.ndarray]) -> int:
    """COPY a table given as named numpy columns (users, products, truth tables): written as CSV
    by Arrow in slices, so millions of rows (the truth of a big shop) stream fast in flat memory."""
    names = list(columns)
    if not names:
        return 0
    schema, _, relation = table.partition(".")
    statement = sql.SQL("copy {} ({}) from stdin (format csv)").format(
        sql.Identifier(schema, relation), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    n = len(np.asarray(columns[names[0]]))
    options = pa_csv.WriteOptions(include_header=False)
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for a in range(0, n, _CSV_ROWS):
            part = pa.table({name: _arrow_column(np.asarray(columns[name])[a:a + _CSV_ROWS]) for name in names})
            sink = pa.BufferOutputStream()
            pa_csv.write_csv(part, sink, options)
            copy.write(sink.getvalue().to_pybytes())
    return n


def _interaction_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    return conn.execute(
        """
        select indexname, indexdef from pg_indexes
        where schemaname = 'raw' and tablename = 'interactions'
        """
    ).fetchall()


def copy_events(
    conn: psycopg.Connection,
    batches: Iterable,
    *,
    on_batch: Callable[[object, int], None] | None = None,
    bulk: bool = False,
) -> int:
    """Stream event batches into raw.interactions with one binary COPY; returns the rows written.

    bulk=True is for a load into an empty table: the table is truncated (a new file, so with
    wal_level=minimal nothing goes to the WAL) and its indexes are dropped and rebuilt after the
    COPY, all inside the caller's transaction. Building an index once is far cheaper than
    maintaining it row by row.
    """
    indexes: list[tuple[str, str]] = []
    if bulk:
        conn.execute("truncate raw.interactions")
        indexes = _interaction_indexes(conn)
        for name, _ in indexes:
            conn.execute(sql.SQL("drop index {}").format(sql.Identifier("raw", name)))
    total = 0
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
    for _, definition in indexes:
        conn.execute(definition)  # the catalogue's own definition, not user input
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
    """raw.users, raw.products and the truth tables of `world`; only `user_ids` when given
    (users added by a live stream or an append), in which case products are not written again."""
    users = world.users_table()
    truth = world.truth_tables()
    if user_ids is not None:
        write_columns(conn, "raw.users", _rows_of(users, users["user_id"], user_ids))
        for table in ("users", "user_category_affinity", "user_brand_affinity", "user_taste"):
            columns = truth[table]
            write_columns(conn, f"truth.{table}", _rows_of(columns, columns["user_id"], user_ids))
        return
    write_columns(conn, "raw.users", users)
    write_columns(conn, "raw.products", products_rows(world))
    for table, columns in truth.items():
        write_columns(conn, f"truth.{table}", columns)


def _rows_of(columns: Mapping[str, np.ndarray], keys: np.ndarray, wanted: np.ndarray) -> dict:
    mask = np.isin(keys, wanted)
    return {name: np.asarray(values)[mask] for name, values in columns.items()}


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
