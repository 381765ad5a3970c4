"""The raw tables as Parquet files: what `shop simulate --format parquet --out DIR` writes.

A warehouse on a distributed engine (the dbt project's `spark` target) reads its raw data from
files, not from PostgreSQL. The layout is one directory per raw table, each a Parquet dataset:

    DIR/users/part-00000.parquet          DIR/interactions/part-00000.parquet
    DIR/products/part-00000.parquet       DIR/served_recommendations/part-00000.parquet

Columns and meaning follow the raw data contract (docs/architecture.md); the types are the nearest Parquet
ones: uuid -> string (canonical lower-case text, as PostgreSQL prints it), timestamptz ->
timestamp[us, UTC], numeric(10,2) -> decimal(10,2), bigint[] -> list<int64>. The simulator never
serves recommendations, so served_recommendations is written empty (the warehouse still reads it).

A write goes to a hidden directory first and is moved into place only when complete, so an
interrupted run leaves DIR as it was.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from shopcore.errors import ShopError
from simulator.batch import EventBatch
from simulator.params import SimulationParams

TABLES = ("users", "products", "interactions", "served_recommendations")
PART = "part-00000.parquet"

_TIMESTAMP = pa.timestamp("us", tz="UTC")
_MONEY = pa.decimal128(10, 2)

INTERACTIONS_SCHEMA = pa.schema([
    pa.field("event_id", pa.string(), nullable=False),
    pa.field("session_id", pa.string(), nullable=False),
    pa.field("user_id", pa.int64(), nullable=False),
    pa.field("product_id", pa.int64(), nullable=False),
    pa.field("event_type", pa.string(), nullable=False),
    pa.field("quantity", pa.int32(), nullable=False),
    pa.field("unit_price", _MONEY, nullable=False),
    pa.field("order_id", pa.string()),
    pa.field("recommendation_variant", pa.string()),
    pa.field("occurred_at", _TIMESTAMP, nullable=False),
    pa.field("loaded_at", _TIMESTAMP, nullable=False),
])

USERS_SCHEMA = pa.schema([
    pa.field("user_id", pa.int64(), nullable=False),
    pa.field("email", pa.string(), nullable=False),
    pa.field("full_name", pa.string(), nullable=False),
    pa.field("country", pa.string(), nullable=False),
    pa.field("channel", pa.string(), nullable=False),
    pa.field("signup_at", _TIMESTAMP, nullable=False),
])

PRODUCTS_SCHEMA = pa.schema([
    pa.field("product_id", pa.int64(), nullable=False),
    pa.field("sku", pa.string(), nullable=False),
    pa.field("name", pa.string(), nullable=False),
    pa.field("category", pa.string(), nullable=False),
    pa.field("brand", pa.string(), nullable=False),
    pa.field("price", _MONEY, nullable=False),
    pa.field("created_at", _TIMESTAMP, nullable=False),
    pa.field("updated_at", _TIMESTAMP, nullable=False),
    pa.field("active", pa.bool_(), nullable=False),
])

SERVED_RECOMMENDATIONS_SCHEMA = pa.schema([
    pa.field("request_id", pa.string(), nullable=False),
    pa.field("user_id", pa.int64(), nullable=False),
    pa.field("variant", pa.string(), nullable=False),
    pa.field("model_id", pa.string()),
    pa.field("strategy", pa.string(), nullable=False),
    pa.field("product_ids", pa.list_(pa.int64()), nullable=False),
    pa.field("variant_weights", pa.string()),  # jsonb -> its JSON text
    pa.field("served_at", _TIMESTAMP, nullable=False),
    pa.field("loaded_at", _TIMESTAMP, nullable=False),
])


def uuid_strings(rows: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    """(n, 16) UUID bytes as canonical text (8-4-4-4-12 lower-case hex); null where not `present`."""
    hexed = rows.tobytes().hex()
    text = [
        f"{hexed[i:i + 8]}-{hexed[i + 8:i + 12]}-{hexed[i + 12:i + 16]}-{hexed[i + 16:i + 20]}-{hexed[i + 20:i + 32]}"
        for i in range(0, len(hexed), 32)
    ]
    mask = None if present is None else ~np.asarray(present, dtype=bool)
    return pa.array(text, type=pa.string(), mask=mask)


def cents_to_decimal(cents: np.ndarray) -> pa.Array:
    """Integer cents as exact decimal(10,2): the unscaled 128-bit value is the cents themselves."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    limbs = np.empty((len(cents), 2), dtype=np.int64)
    limbs[:, 0] = cents
    limbs[:, 1] = cents >> 63  # sign extension of the high 64 bits
    return pa.Array.from_buffers(_MONEY, len(cents), [None, pa.py_buffer(limbs.tobytes())])


def _timestamps(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values).astype("datetime64[us]"), type=_TIMESTAMP)


def interactions_table(batch: EventBatch) -> pa.Table:
    return pa.Table.from_arrays(
        [
            uuid_strings(batch.event_id),
            uuid_strings(batch.session_id),
            pa.array(batch.user_id, type=pa.int64()),
            pa.array(batch.product_id, type=pa.int64()),
            pa.array(batch.event_type.tolist(), type=pa.string()),
            pa.array(batch.quantity, type=pa.int32()),
            cents_to_decimal(batch.unit_price_cents),
            uuid_strings(batch.order_id, present=batch.has_order),
            pa.array(batch.recommendation_variant.tolist(), type=pa.string()),
            _timestamps(batch.occurred_at),
            _timestamps(batch.loaded_at),
        ],
        schema=INTERACTIONS_SCHEMA,
    )


def users_table(world) -> pa.Table:
    users = world.users_table()
    return pa.Table.from_arrays(
        [
            pa.array(users["user_id"], type=pa.int64()),
            *(pa.array(list(users[name]), type=pa.string()) for name in ("email", "full_name", "country", "channel")),
            _timestamps(users["signup_at"]),
        ],
        schema=USERS_SCHEMA,
    )


def products_table(world) -> pa.Table:
    products = world.products_table()
    return pa.Table.from_arrays(
        [
            pa.array(products["product_id"], type=pa.int64()),
            *(pa.array(list(products[name]), type=pa.string()) for name in ("sku", "name", "category", "brand")),
            cents_to_decimal(products["price_cents"]),
            _timestamps(products["created_at"]),
            _timestamps(products["updated_at"]),
            pa.array(np.ones(len(products["product_id"]), dtype=bool), type=pa.bool_()),
        ],
        schema=PRODUCTS_SCHEMA,
    )


@dataclass(frozen=True)
class ParquetResult:
    events: int
    users: int
    products: int
    out: Path
    seconds: float


def existing_tables(out: Path) -> list[str]:
    return [name for name in TABLES if (out / name).exists()]


def check_out_dir(out: Path, *, reset: bool) -> Path:
    """The resolved output directory; an error naming the way out when it cannot be written."""
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise ShopError(f"--out {out} is a file: give a directory (it is created if missing).")
    found = existing_tables(out)
    if found and not reset:
        raise ShopError(
            f"{out} already holds raw tables ({', '.join(found)}). Run with --reset to replace them, "
            "or pick another --out directory."
        )
    return out


def write_history(
    out: Path,
    world,
    batches: Iterable[EventBatch],
    *,
    reset: bool = False,
    on_batch: Callable[[EventBatch, int], None] | None = None,
) -> ParquetResult:
    """Write the world's users and products and every event batch as the raw tables under `out`.

    Refuses a directory that already holds raw tables unless `reset` (then they are replaced).
    Event batches are written as row groups one at a time, so memory stays flat.
    """
    started = time.perf_counter()
    out = check_out_dir(out, reset=reset)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".raw-", dir=out))
    try:
        for name in TABLES:
            (staging / name).mkdir()
        pq.write_table(users_table(world), staging / "users" / PART)
        pq.write_table(products_table(world), staging / "products" / PART)
        pq.write_table(SERVED_RECOMMENDATIONS_SCHEMA.empty_table(), staging / "served_recommendations" / PART)
        events = 0
        with pq.ParquetWriter(staging / "interactions" / PART, INTERACTIONS_SCHEMA) as writer:
            for batch in batches:
                if len(batch):
                    writer.write_table(interactions_table(batch))
                events += len(batch)
                if on_batch is not None:
                    on_batch(batch, events)
        for name in TABLES:
            if (out / name).exists():
                shutil.rmtree(out / name)
            (staging / name).rename(out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ParquetResult(events, world.n_users, world.n_products, out, time.perf_counter() - started)


def simulate_history(
    out: Path,
    params: SimulationParams,
    *,
    reset: bool = False,
    on_batch: Callable[[EventBatch, int], None] | None = None,
) -> ParquetResult:
    """The history `shop simulate` would load into PostgreSQL, as Parquet under `out`: the same
    parameters give the same rows (loaded_at included, as long as the window ended before now)."""
    from simulator.generate import generate_history, new_state
    from simulator.world import build_world

    now = datetime.now(timezone.utc)
    if params.end > now:
        raise ShopError(
            f"--end {params.end:%Y-%m-%d %H:%M} UTC is in the future: history ends at or before now."
        )
    world = build_world(params)
    batches = generate_history(world, params.start, params.end, state=new_state(world), max_loaded_at=now)
    return write_history(out, world, batches, reset=reset, on_batch=on_batch)
