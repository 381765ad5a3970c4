"""PostgreSQL's binary COPY format, both ways, with numpy and no Python loop per row.

Out (`encode_interactions`): the simulator's (or an import's) event rows into `raw.interactions`.
In (`read_columns`): the fixed-width columns of a query, as the recommender reads its marts.

Every field of `raw.interactions` has a fixed width except the two text columns and the nullable
ones, so rows are grouped by (event type text, order present, price known, variant text): inside a group every
row has the same layout and one numpy structured array packs the whole group at C speed. Row order
inside a COPY carries no meaning, so grouping is free.
"""

from __future__ import annotations

import math
import struct
from typing import Protocol

import numpy as np
import psycopg
from psycopg import sql

from shopcore.ordering import stable_argsort

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)

# Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01 UTC).
_PG_EPOCH_OFFSET_US = 946_684_800_000_000
_READ_CHUNK_BYTES = 32 << 20
_FEW_VALUES = 64

INTERACTION_COLUMNS = (
    "event_id",
    "session_id",
    "user_id",
    "product_id",
    "event_type",
    "quantity",
    "unit_price",
    "order_id",
    "recommendation_variant",
    "occurred_at",
    "loaded_at",
)
COPY_INTERACTIONS_SQL = (
    f"copy raw.interactions ({', '.join(INTERACTION_COLUMNS)}) from stdin (format binary)"
)


class InteractionRows(Protocol):
    """Columns of raw.interactions rows, one array each (the simulator's EventBatch is one)."""

    event_id: np.ndarray  # 16-byte uuids
    session_id: np.ndarray
    user_id: np.ndarray
    product_id: np.ndarray
    event_type: np.ndarray  # text
    quantity: np.ndarray
    unit_price_cents: np.ndarray
    has_order: np.ndarray
    order_id: np.ndarray
    recommendation_variant: np.ndarray  # text or None
    occurred_at: np.ndarray  # datetime64, UTC
    loaded_at: np.ndarray
    # Optional (an import's rows): has_unit_price, bool per row, False where the price is unknown
    # (NULL since migration 0008). A batch without the attribute has every price known.

    def __len__(self) -> int: ...


def pg_timestamps(values: np.ndarray) -> np.ndarray:
    """datetime64 (UTC) -> microseconds since 2000-01-01, PostgreSQL's binary timestamptz."""
    return values.astype("datetime64[us]").astype(np.int64) - _PG_EPOCH_OFFSET_US


def from_pg_timestamps(values: np.ndarray) -> np.ndarray:
    """PostgreSQL's binary timestamptz (microseconds since 2000-01-01) -> microseconds since the Unix epoch."""
    return values + _PG_EPOCH_OFFSET_US


def numeric_digits(cents: np.ndarray) -> np.ndarray:
    """Cents -> three base-10000 digit groups (weight 1, dscale 2), as numeric_recv reads them.

    PostgreSQL strips leading and trailing zero groups itself, so a fixed three-group form holds
    every numeric(10, 2) value (up to 99,999,999.99).
    """
    cents = cents.astype(np.int64)
    if cents.size and (cents.min() < 0 or cents.max() > 9_999_999_999):
        raise ValueError("prices must be between 0 and 99,999,999.99")
    whole = cents // 100
    digits = np.empty((cents.shape[0], 3), dtype=np.int64)
    digits[:, 0] = whole // 10_000
    digits[:, 1] = whole % 10_000
    digits[:, 2] = (cents % 100) * 100
    return digits


def _categorical(values: np.ndarray, n: int) -> tuple[list, np.ndarray]:
    """(distinct values in first-seen order, an integer code per row).

    Distinct texts are few (event types, variant names): one vectorised comparison per distinct
    value over the rows still without a code; past ``_FEW_VALUES`` a dict takes the rest."""
    values = np.asarray(values)
    codes = np.empty(n, dtype=np.int64)
    vocabulary: list = []
    todo = np.arange(n)
    while len(todo) and len(vocabulary) < _FEW_VALUES:
        value = values[todo[0]]
        rest = values[todo]
        same = np.equal(rest, None) if value is None else rest == value
        codes[todo[same]] = len(vocabulary)
        vocabulary.append(value)
        todo = todo[~same]
    if len(todo):
        index = {v: i for i, v in enumerate(vocabulary)}
        codes[todo] = [index.setdefault(v, len(index)) for v in values[todo].tolist()]
        vocabulary = list(index)
    return vocabulary, codes


def _group_dtype(event_type: bytes, with_order: bool, variant: bytes | None, with_price: bool = True) -> np.dtype:
    fields: list[tuple] = [
        ("nfields", ">i2"),
        ("l_event", ">i4"), ("event_id", "u1", (16,)),
        ("l_session", ">i4"), ("session_id", "u1", (16,)),
        ("l_user", ">i4"), ("user_id", ">i8"),
        ("l_product", ">i4"), ("product_id", ">i8"),
        ("l_type", ">i4"), ("event_type", f"S{len(event_type)}"),
        ("l_quantity", ">i4"), ("quantity", ">i4"),
        ("l_price", ">i4"),
    ]
    if with_price:  # numeric: ndigits, weight, sign, dscale, then the digit groups
        fields += [("n_head", ">i2", (4,)), ("price_digits", ">i2", (3,))]
    fields.append(("l_order", ">i4"))
    if with_order:
        fields.append(("order_id", "u1", (16,)))
    fields.append(("l_variant", ">i4"))
    if variant is not None:
        fields.append(("variant", f"S{len(variant)}"))
    fields += [
        ("l_occurred", ">i4"), ("occurred_at", ">i8"),
        ("l_loaded", ">i4"), ("loaded_at", ">i8"),
    ]
    return np.dtype(fields)


def encode_interactions(batch: InteractionRows) -> bytes:
    """The rows of `batch` as binary COPY tuples (no header or trailer)."""
    n = len(batch)
    if n == 0:
        return b""
    has_order = np.asarray(batch.has_order, dtype=bool)
    known = getattr(batch, "has_unit_price", None)
    has_price = np.ones(n, dtype=bool) if known is None else np.asarray(known, dtype=bool)
    # Small integer codes for the grouping key: distinct texts are few (event types, variant names).
    type_values, type_codes = _categorical(batch.event_type, n)
    variant_values, variant_codes = _categorical(batch.recommendation_variant, n)
    group_key = ((type_codes.astype(np.int64) * len(variant_values) + variant_codes) * 2 + has_order) * 2 + has_price
    order = stable_argsort(group_key)
    sorted_keys = group_key[order]
    boundaries = np.flatnonzero(np.diff(sorted_keys)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [n]))

    price = numeric_digits(np.where(has_price, np.asarray(batch.unit_price_cents), 0))
    occurred = pg_timestamps(np.asarray(batch.occurred_at))
    loaded = pg_timestamps(np.asarray(batch.loaded_at))

    parts = []
    for start, end in zip(starts, ends):
        rows = order[start:end]
        key = int(sorted_keys[start])
        with_price = bool(key % 2)
        key //= 2
        with_order = bool(key % 2)
        variant_text = variant_values[(key // 2) % len(variant_values)]
        event_type = str(type_values[(key // 2) // len(variant_values)]).encode()
        variant = None if variant_text is None else str(variant_text).encode()
        packed = np.empty(len(rows), dtype=_group_dtype(event_type, with_order, variant, with_price))
        packed["nfields"] = len(INTERACTION_COLUMNS)
        packed["l_event"] = 16
        packed["event_id"] = batch.event_id[rows]
        packed["l_session"] = 16
        packed["session_id"] = batch.session_id[rows]
        packed["l_user"] = 8
        packed["user_id"] = batch.user_id[rows]
        packed["l_product"] = 8
        packed["product_id"] = batch.product_id[rows]
        packed["l_type"] = len(event_type)
        packed["event_type"] = event_type
        packed["l_quantity"] = 4
        packed["quantity"] = batch.quantity[rows]
        if with_price:
            packed["l_price"] = 14
            packed["n_head"] = (3, 1, 0, 2)  # ndigits, weight, sign (positive), dscale
            packed["price_digits"] = price[rows]
        else:
            packed["l_price"] = -1
        if with_order:
            packed["l_order"] = 16
            packed["order_id"] = batch.order_id[rows]
        else:
            packed["l_order"] = -1
        if variant is not None:
            packed["l_variant"] = len(variant)
            packed["variant"] = variant
        else:
            packed["l_variant"] = -1
        packed["l_occurred"] = 8
        packed["occurred_at"] = occurred[rows]
        packed["l_loaded"] = 8
        packed["loaded_at"] = loaded[rows]
        parts.append(packed.tobytes())
    return b"".join(parts)


# PostgreSQL types (as format_type names them) that encode_rows writes, and their numpy layouts.
_FIXED_TYPES = {"bigint": ">i8", "integer": ">i4", "smallint": ">i2", "double precision": ">f8", "boolean": "u1"}
_FLOAT8_OID = 701
BINARY_COPY_TYPES = frozenset({*_FIXED_TYPES, "timestamp with time zone", "text", "double precision[]"})


def _field_matrix(values: np.ndarray, pg_type: str) -> tuple[np.ndarray, np.ndarray]:
    """(each row's value length in bytes, -1 for NULL; a (rows, width) byte matrix whose row r
    starts with row r's value).

    NULL is NaN in a float column, NaT in a timestamp column, None in a text column; a text
    column of bytes (numpy ``S``) holds UTF-8 and no NULL."""
    n = len(values)
    if pg_type in _FIXED_TYPES:
        layout = np.dtype(_FIXED_TYPES[pg_type])
        null = np.isnan(values) if values.dtype.kind == "f" else np.zeros(n, dtype=bool)
        if pg_type == "boolean":
            values = values.astype(bool)
        packed = np.ascontiguousarray(values.astype(layout))
        return np.where(null, -1, layout.itemsize), packed.view(np.uint8).reshape(n, layout.itemsize)
    if pg_type == "timestamp with time zone":
        null = np.isnat(values)
        us = pg_timestamps(np.where(null, np.datetime64(0, "us"), values)).astype(">i8")
        return np.where(null, -1, 8), us.view(np.uint8).reshape(n, 8)
    if pg_type == "text" and values.dtype.kind == "S":  # UTF-8 already: the bytes as they are
        if values.dtype.itemsize == 0:
            return np.zeros(n, dtype=np.int64), np.zeros((n, 1), dtype=np.uint8)
        matrix = np.ascontiguousarray(values).view(np.uint8).reshape(n, values.dtype.itemsize)
        return np.strings.str_len(values), matrix
    if pg_type == "text":
        null = np.equal(values, None) if values.dtype == object else np.zeros(n, dtype=bool)
        text = np.where(null, "", values).astype(str) if null.any() else values.astype(str)
        if text.dtype.itemsize == 0:
            return np.where(null, -1, 0), np.zeros((n, 1), dtype=np.uint8)
        points = text.view(np.uint32).reshape(n, -1)
        if (points < 128).all():  # ASCII: the code points are the bytes (far faster than encoding)
            return np.where(null, -1, np.strings.str_len(text)), points.astype(np.uint8)
        encoded = np.strings.encode(text, "utf-8")
        matrix = encoded.view(np.uint8).reshape(n, encoded.dtype.itemsize)
        return np.where(null, -1, np.strings.str_len(encoded)), matrix
    if pg_type == "double precision[]":  # one-dimensional, no NULL elements
        d = values.shape[1]
        packed = np.empty(n, dtype=np.dtype([("head", ">i4", (5,)), ("elements", [("len", ">i4"), ("value", ">f8")], (d,))]))
        packed["head"] = (1, 0, _FLOAT8_OID, d, 1)  # ndim, has nulls, element type, length, lower bound
        packed["elements"]["len"] = 8
        packed["elements"]["value"] = values
        return np.full(n, packed.dtype.itemsize), packed.view(np.uint8).reshape(n, -1)
    raise ValueError(f"binary COPY of {pg_type} is not supported")


def _pack_rows(matrices: list[np.ndarray], widths: list[int]) -> bytes:
    """Rows whose every field has the same length (``widths``, -1 = NULL): one structured array."""
    n = len(matrices[0])
    spec: list[tuple] = [("nfields", ">i2")]
    for j, w in enumerate(widths):
        spec.append((f"l{j}", ">i4"))
        if w > 0:
            spec.append((f"v{j}", "u1", (w,)))
    packed = np.empty(n, dtype=spec)
    packed["nfields"] = len(widths)
    for j, (matrix, w) in enumerate(zip(matrices, widths)):
        packed[f"l{j}"] = w
        if w > 0:
            packed[f"v{j}"] = matrix[:, :w]
    return packed.tobytes()


def encode_rows(columns: list[np.ndarray], pg_types: list[str]) -> bytes:
    """Rows of equal-length columns as binary COPY tuples (no header or trailer), each column
    encoded as its PostgreSQL type (one of ``BINARY_COPY_TYPES``), without a loop per row.

    Rows are grouped by the lengths of their values (text lengths, NULLs): inside a group every
    row has one layout, packed by one structured array. Row order inside a COPY carries no
    meaning; inside a group it is kept."""
    n = len(columns[0]) if columns else 0
    if n == 0:
        return b""
    fields = [_field_matrix(np.asarray(values), t) for values, t in zip(columns, pg_types)]
    # One integer per row that says its layout: the fields' lengths in a mixed radix.
    ranges = [(int(sizes.min()), int(sizes.max())) for sizes, _ in fields]
    if math.prod(high - low + 1 for low, high in ranges) < 1 << 62:
        key = np.zeros(n, dtype=np.int64)
        for (sizes, _), (low, high) in zip(fields, ranges):
            key = key * (high - low + 1) + (sizes - low)
    else:
        key = np.unique(np.stack([sizes for sizes, _ in fields], axis=1), axis=0, return_inverse=True)[1]
    order = stable_argsort(key)
    sorted_key = key[order]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(sorted_key)) + 1, [n]))
    parts = []
    for a, b in zip(starts[:-1], starts[1:]):
        rows = order[a:b] if len(starts) > 2 else slice(None)
        first = order[a]
        parts.append(_pack_rows([matrix[rows] for _, matrix in fields],
                                [int(sizes[first]) for sizes, _ in fields]))
    return b"".join(parts)


class _FixedWidthRows:
    """Decoder of a binary COPY stream whose columns are all fixed-width and never NULL."""

    def __init__(self, types: list[str]) -> None:
        # Each row: int16 field count, then per field an int32 length and the value, big-endian.
        spec = [("n", ">i2")]
        for j, t in enumerate(types):
            spec += [(f"len{j}", ">i4"), (f"v{j}", ">" + t)]
        self.dtype = np.dtype(spec)
        self.types = types
        self.parts: list[np.ndarray] = []
        self.buffer = bytearray()
        self.header_done = False

    def feed(self, data: bytes | memoryview, final: bool = False) -> None:
        self.buffer += data
        if not self.header_done:
            if len(self.buffer) < 19:
                return
            if bytes(self.buffer[:11]) != HEADER[:11]:
                raise ValueError("not a PostgreSQL binary COPY stream")
            extension = int.from_bytes(self.buffer[15:19], "big")
            del self.buffer[: 19 + extension]
            self.header_done = True
        usable = len(self.buffer) - (2 if final else 0)  # the stream ends with an int16 -1
        n = usable // self.dtype.itemsize
        if n:
            rows = np.frombuffer(bytes(self.buffer[: n * self.dtype.itemsize]), dtype=self.dtype)
            del self.buffer[: n * self.dtype.itemsize]
            self.parts.append(rows)
        if final and bytes(self.buffer) != b"\xff\xff":
            raise ValueError("unexpected end of a binary COPY stream (a NULL or variable-width value?)")

    def columns(self) -> list[np.ndarray]:
        rows = np.concatenate(self.parts) if self.parts else np.empty(0, dtype=self.dtype)
        if len(rows) and not ((rows["n"] == len(self.types)).all() and all(
                (rows[f"len{j}"] == np.dtype(t).itemsize).all() for j, t in enumerate(self.types))):
            raise ValueError("binary COPY rows do not have the expected layout")
        return [rows[f"v{j}"].astype(np.dtype(t).newbyteorder("=")) for j, t in enumerate(self.types)]


def read_columns(conn: psycopg.Connection, query: sql.Composable, types: list[str]) -> list[np.ndarray]:
    """Columns of ``query`` (whose select list has the fixed-width ``types``: i2, i4, i8, f8)."""
    decoder = _FixedWidthRows(types)
    pending: list[bytes] = []
    size = 0
    with conn.cursor() as cur, cur.copy(sql.SQL("copy ({}) to stdout (format binary)").format(query)) as copy:
        for block in copy:
            pending.append(bytes(block))
            size += len(block)
            if size >= _READ_CHUNK_BYTES:
                decoder.feed(b"".join(pending))
                pending, size = [], 0
    decoder.feed(b"".join(pending), final=True)
    return decoder.columns()
