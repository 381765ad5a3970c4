"""Opening a file and streaming it as record batches of text columns, in constant memory.

CSV (optionally gzip-compressed: `.gz`): pyarrow.csv.open_csv with every column read as text (the
importer validates each value itself, so one bad value rejects one row, not the file), rows with a
wrong number of fields handed to `on_malformed` with their text and line. Parquet:
ParquetFile.iter_batches. NDJSON: pyarrow.json.open_json (types inferred from the first block;
a column that changes JSON type later is refused). Every value reaches the formats as a string.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from importer.errors import UnreadableFile

BATCH_ROWS = 128 * 1024
# Arrow's streaming CSV reader reads up to 32 blocks ahead in the background, so the block size
# bounds its memory (32 x 2 MiB); blocks are then joined into batches of about BATCH_ROWS rows,
# large enough to amortise the work per batch (one COPY, one group-by of products).
CSV_BLOCK_BYTES = 2 << 20
_HEADER_PROBE_BYTES = 1 << 20

Malformed = Callable[[int | None, str, str], None]  # (line, reason, text)


@dataclass(frozen=True)
class Opened:
    path: Path
    kind: str  # csv | parquet | ndjson
    columns: tuple[str, ...]  # as the file spells them
    total_rows: int | None  # known up front for Parquet only
    encoding: str

    @property
    def display(self) -> str:
        return str(self.path)


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith(".parquet") or name.endswith(".pq"):
        return "parquet"
    if name.endswith((".ndjson", ".jsonl", ".json")):
        return "ndjson"
    return "csv"


def _python_codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError as exc:
        raise UnreadableFile(f"Unknown encoding {encoding!r} (try utf-8 or latin-1).") from exc


def open_source(path: Path, encoding: str = "utf-8") -> Opened:
    """Check that `path` can be read and return its columns (CSV: the header line)."""
    path = Path(path)
    if not path.is_file():
        raise UnreadableFile(f"{path}: no such file.")
    kind = _kind(path)
    codec = _python_codec(encoding)
    if kind == "parquet":
        try:
            meta = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise UnreadableFile(f"{path}: not a readable Parquet file ({exc}).") from exc
        return Opened(path, kind, tuple(meta.schema_arrow.names), meta.metadata.num_rows, codec)
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            head = stream.read(_HEADER_PROBE_BYTES)
    except (pa.ArrowException, OSError) as exc:
        raise UnreadableFile(f"{path}: cannot be read ({exc}).") from exc
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        raise UnreadableFile(f"{path} is empty: there is not even a header line.")
    if kind == "ndjson":
        first = head.split(b"\n", 1)[0]
        try:
            import json

            record = json.loads(first.decode(codec).lstrip("\ufeff"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise UnreadableFile(f"{path}: line 1 is not a JSON object ({exc}).") from exc
        if not isinstance(record, dict):
            raise UnreadableFile(f"{path}: line 1 is not a JSON object.")
        return Opened(path, kind, tuple(record), None, codec)
    try:
        text = head.decode(codec, errors="strict")
    except UnicodeDecodeError:
        # The probe may end inside a multi-byte character: decode what is complete.
        try:
            text = head[: max(0, len(head) - 4)].decode(codec, errors="strict") if len(head) == _HEADER_PROBE_BYTES else None
        except UnicodeDecodeError:
            text = None
        if text is None:
            raise UnreadableFile(
                f"{path} is not valid {codec} text. If it is Latin-1 (ISO-8859-1), pass --encoding latin-1."
            ) from None
    text = text.lstrip("\ufeff")
    header_line = next(csv.reader(io.StringIO(text)), [])
    columns = tuple(c.strip() for c in header_line)
    if not columns or all(not c for c in columns):
        raise UnreadableFile(f"{path}: the first line is not a CSV header.")
    if len(set(c.lower() for c in columns)) != len(columns):
        raise UnreadableFile(f"{path}: the header repeats a column name: {', '.join(columns)}.")
    return Opened(path, kind, columns, None, codec)


def _as_strings(batch: pa.RecordBatch) -> pa.RecordBatch:
    arrays = []
    for column in batch.columns:
        if pa.types.is_string(column.type):
            arrays.append(column)
        elif pa.types.is_large_string(column.type) or pa.types.is_dictionary(column.type):
            arrays.append(pc.cast(column, pa.string()))
        elif pa.types.is_timestamp(column.type):
            # ISO text with the zone (naive Parquet timestamps are read as UTC)
            utc = column if column.type.tz else pc.assume_timezone(column, "UTC")
            arrays.append(pc.strftime(utc, format="%Y-%m-%dT%H:%M:%S%z"))
        elif pa.types.is_null(column.type):
            arrays.append(pa.nulls(len(column), pa.string()))
        elif pa.types.is_binary(column.type) or pa.types.is_fixed_size_binary(column.type):
            arrays.append(pc.cast(column, pa.string()) if pa.types.is_binary(column.type)
                          else pa.array([None if v is None else v.hex() for v in column.to_pylist()], pa.string()))
        else:
            try:
                arrays.append(pc.cast(column, pa.string()))
            except pa.ArrowNotImplementedError as exc:
                raise UnreadableFile(f"a column of type {column.type} cannot be imported") from exc
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _rebatched(reader: Iterator[pa.RecordBatch], rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]
            pending, count = [], 0
    if count:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


def batches(opened: Opened, on_malformed: Malformed, *, newlines_in_values: bool = False) -> Iterator[pa.RecordBatch]:
    """The file's rows as record batches of string columns, in file order."""
    path = opened.path
    try:
        if opened.kind == "parquet":
            parquet = pq.ParquetFile(path)
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
                yield _as_strings(batch)
            return
        if opened.kind == "ndjson":
            reader = pa_json.open_json(
                pa.input_stream(str(path), compression="detect"),
                read_options=pa_json.ReadOptions(block_size=CSV_BLOCK_BYTES),
            )
            for batch in reader:
                yield _as_strings(batch)
            return

        def invalid_row(row: pa_csv.InvalidRow) -> str:
            on_malformed(row.number, f"{row.actual_columns} fields where the header has {row.expected_columns}",
                         row.text)
            return "skip"

        reader = pa_csv.open_csv(
            pa.input_stream(str(path), compression="detect"),
            read_options=pa_csv.ReadOptions(
                block_size=CSV_BLOCK_BYTES, encoding=opened.encoding, use_threads=False,
                column_names=list(opened.columns), skip_rows=1,
            ),
            parse_options=pa_csv.ParseOptions(newlines_in_values=newlines_in_values, invalid_row_handler=invalid_row),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in opened.columns},
                strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
        )
        yield from _rebatched(reader)
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "UTF8" in message or "UTF-8" in message or "utf8" in message:
            raise UnreadableFile(
                f"{path} is not valid UTF-8 text. If it is Latin-1 (ISO-8859-1), pass --encoding latin-1."
            ) from exc
        raise UnreadableFile(f"{path} cannot be parsed: {message}") from exc
    except (OSError, pa.ArrowException) as exc:
        raise UnreadableFile(f"{path} cannot be read: {exc}") from exc
