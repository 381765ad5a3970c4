"""`run_import`: stream files into raw.* in one transaction. Either the whole import commits or
nothing does (a killed import rolls back).

Events whose session is known go straight into raw.interactions by binary COPY, batch by batch (the
fast path); afterwards one pass over the days they touched finds event ids that were already there
(or repeated in the files) and removes this import's extra copies. Events without a session (the
session rule needs all of a user's events) and every event of a dry run go through a stage table:

    stage (pg_temp)                           raw
    import_events   --anti-join on event_id-->  raw.interactions   (sessions and their orders derived here)
    import_users    --newest attributes------>  raw.users
    import_products --newest attributes------>  raw.products
    import_rejects  ------------------------->  raw.rejected_rows  (+ one row in shop_meta.imports)

Rules (README.md, "Bring your own data"):
- sessions: a source without sessions gets one per user and 30-minute gap (the session starts at the
  user's first event after a gap of more than 30 minutes): md5('session:<user>:<start>') as a uuid.
- orders: a purchase without an order id belongs to the order of its session and user:
  md5('order:<user>:<session>') as a uuid.
- users: from their first event (signup_at = first event time; email, name, country when the source
  has them, else NULL; channel NULL). An existing user keeps every known value; unknown ones are
  filled, and signup_at moves earlier when an event predates it.
- products: the newest non-blank category, brand, name, sku and price seen (a price from the newest
  event with a price); created_at = first seen, updated_at = last seen. An existing product takes
  newer attributes and keeps older ones where the import knows none.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from importer import formats, sources
from importer.errors import ImportFailed, TooManyRejected
from shopcore import db as shop_db
from shopcore import home_lock
from shopcore.copy_binary import HEADER, INTERACTION_COLUMNS, TRAILER, encode_interactions

SESSION_GAP_MINUTES = 30
_WRITE_CHUNK = 4 << 20
_PREFETCH = 1  # parsed batches waiting for the database: bounds memory


@dataclass(frozen=True)
class RejectLimit:
    """--max-rejected: a number of rows, or a share (percent) of the rows read."""

    count: int | None = 0
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> RejectLimit:
        text = text.strip()
        try:
            if text.endswith("%"):
                value = float(text[:-1])
                if not 0 <= value <= 100:
                    raise ValueError
                return cls(count=None, percent=value)
            value = int(text)
            if value < 0:
                raise ValueError
            return cls(count=value)
        except ValueError:
            raise ImportFailed(f"--max-rejected takes a number of rows (e.g. 100) or a percentage (e.g. 0.5%), "
                               f"not {text!r}.") from None

    def allows(self, rejected: int, rows: int) -> bool:
        if self.percent is not None:
            return rejected <= rows * self.percent / 100
        return rejected <= (self.count or 0)

    def describe(self) -> str:
        return f"{self.percent:g}% of the rows read" if self.percent is not None else f"{self.count:,} rows"


@dataclass
class FileReport:
    path: Path
    role: tuple[str, str]
    rows: int = 0
    rejected: int = 0
    skipped: int = 0


@dataclass
class ImportResult:
    import_id: uuid.UUID
    dry_run: bool
    files: list[FileReport]
    rows_read: int = 0
    events_staged: int = 0  # events read and valid (direct + staged)
    events_direct: int = 0  # of which copied straight into raw.interactions
    events_new: int = 0
    events_present: int = 0
    users_new: int = 0
    products_new: int = 0
    rejected: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0
    committed: bool = False

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected.values())

    @property
    def rows_skipped(self) -> int:
        return sum(self.skipped.values())


Progress = Callable[[str, int, int | None], None]  # (file, rows read in it, its total if known)


_STAGE_DDL = [
    "create temp table import_events (like raw.interactions including defaults) on commit drop",
    """create temp table import_users (user_id bigint, email text, full_name text, country text, channel text,
        signup_at timestamptz, first_seen timestamptz, last_seen timestamptz, authoritative boolean) on commit drop""",
    """create temp table import_products (product_id bigint, sku text, name text, category text, brand text,
        price_cents bigint, created_at timestamptz, updated_at timestamptz, first_seen timestamptz,
        last_seen timestamptz, authoritative boolean) on commit drop""",
    "create temp table import_properties (itemid bigint, at timestamptz, categoryid text) on commit drop",
    "create temp table import_tree (categoryid text, parentid text) on commit drop",
    """create temp table import_rejects (source_file text, line bigint, reason text, raw_text text)
        on commit drop""",
]


def _copy_table(conn: psycopg.Connection, table: str, data: pa.Table) -> None:
    """COPY a small Arrow table (CSV text: pyarrow writes it, PostgreSQL parses it)."""
    if data is None or data.num_rows == 0:
        return
    buffer = io.BytesIO()
    pa_csv.write_csv(data, buffer, write_options=pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    statement = sql.SQL("copy {} ({}) from stdin (format csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, data.schema.names)))
    with conn.cursor() as cur, cur.copy(statement) as copy:
        view = buffer.getbuffer()
        for offset in range(0, len(view), _WRITE_CHUNK):
            copy.write(view[offset : offset + _WRITE_CHUNK])


def _copy_events(conn: psycopg.Connection, rows: formats.EventRows, table: str = "import_events") -> None:
    if len(rows) == 0:
        return
    statement = sql.SQL("copy {} ({}) from stdin (format binary)").format(
        sql.Identifier(*table.split(".")), sql.SQL(", ").join(map(sql.Identifier, INTERACTION_COLUMNS)))
    data = memoryview(encode_interactions(rows))
    with conn.cursor() as cur, cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
        copy.write(HEADER)
        for offset in range(0, len(data), _WRITE_CHUNK):
            copy.write(data[offset : offset + _WRITE_CHUNK])
        copy.write(TRAILER)


def _subset(rows: formats.EventRows, keep: np.ndarray) -> formats.EventRows:
    return formats.EventRows(**{name: getattr(rows, name)[keep] for name in formats.EventRows.__dataclass_fields__})


def _with_orders(rows: formats.EventRows) -> None:
    """A purchase without an order id: the order of its session and user, md5('order:<user>:<session>')
    as a uuid, the same id the stage path's SQL gives."""
    needs = np.flatnonzero((rows.event_type == "purchase") & ~rows.has_order)
    for i in needs.tolist():
        session = uuid.UUID(bytes=rows.session_id[i].tobytes())
        rows.order_id[i] = np.frombuffer(hashlib.md5(f"order:{rows.user_id[i]}:{session}".encode()).digest(), np.uint8)
        rows.has_order[i] = True


def _prefetched(items: Iterator, depth: int = _PREFETCH) -> Iterator:
    """Run `items` in a thread, `depth` ahead: parsing overlaps the database's work on the last batch."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", done))
        except BaseException as exc:  # handed to the consumer
            q.put(("error", exc))

    thread = threading.Thread(target=produce, name="import-parse", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)


def _raw_text(batch: pa.RecordBatch, rows: list[int]) -> list[str]:
    taken = batch.take(pa.array(rows, pa.int64()))
    buffer = io.BytesIO()
    pa_csv.write_csv(taken, buffer, write_options=pa_csv.WriteOptions(include_header=False))
    return buffer.getvalue().decode("utf-8").splitlines()


def run_import(
    info: shop_db.ConnectionInfo,
    paths: Sequence[Path],
    *,
    home: Path,
    fmt: str = "auto",
    table: str | None = None,
    encoding: str = "utf-8",
    dry_run: bool = False,
    max_rejected: RejectLimit = RejectLimit(),
    on_file: Callable[[Path, tuple[str, str], int | None], None] | None = None,
    on_progress: Progress | None = None,
) -> ImportResult:
    """Import `paths` into the raw tables in one transaction (dry_run: validate and count, write nothing).

    Raises UnknownFormat / MissingColumns / UnreadableFile before any work when a file cannot be read
    as asked, TooManyRejected (after rolling back) when more rows fail than `max_rejected` allows.
    """
    if fmt not in ("auto", *formats.FORMATS):
        raise ImportFailed(f"Unknown --format {fmt!r}: one of auto, {', '.join(formats.FORMATS)}.")
    if table is not None and table not in formats.RAW_TABLES:
        raise ImportFailed(f"--table must be one of {', '.join(formats.RAW_TABLES)}.")
    if not paths:
        raise ImportFailed("Give at least one file to import.")
    opened = []
    for path in paths:
        source = sources.open_source(Path(path), encoding)
        role = formats.role_for(source.columns, Path(path).name, fmt, table)
        opened.append((source, role))
    roles = {role for _, role in opened}
    if roles & {("retailrocket", "item_properties"), ("retailrocket", "category_tree")} and \
            ("retailrocket", "events") not in roles:
        raise ImportFailed("RetailRocket item properties and category trees describe the items of an events.csv: "
                           "import them together with it (shop import events.csv item_properties*.csv category_tree.csv).")
    opened.sort(key=lambda pair: formats.ROLE_ORDER[pair[1][1]])
    result = ImportResult(import_id=uuid.uuid4(), dry_run=dry_run,
                          files=[FileReport(source.path, role) for source, role in opened])
    started = datetime.now(UTC)
    clock = time.perf_counter()

    with home_lock.hold(home, "import"), shop_db.connect(info) as conn:
        try:
            with conn.transaction():
                for statement in _STAGE_DDL:
                    conn.execute(statement)
                # loaded_at of every row: the transaction's start, as the column's default gives
                now = np.datetime64(conn.execute("select now()").fetchone()[0].astimezone(UTC).replace(tzinfo=None), "us")
                sessionless = False
                days: set = set()
                for (source, role), report in zip(opened, result.files):
                    if on_file is not None:
                        on_file(source.path, role, source.total_rows)
                    sessionless |= _stage_file(conn, source, role, report, result, now, max_rejected, on_progress,
                                               direct_days=None if dry_run else days)
                if not max_rejected.allows(result.rows_rejected, result.rows_read):
                    raise TooManyRejected(
                        f"{result.rows_rejected:,} of {result.rows_read:,} rows failed validation, more than "
                        f"--max-rejected allows ({max_rejected.describe()}): nothing was imported.", result)
                if days:
                    _drop_repeated(conn, result, sorted(days))
                _finish(conn, result, sessionless=sessionless, started=started, dry_run=dry_run)
                if dry_run:
                    raise _DryRun
            result.committed = True
        except _DryRun:
            pass
        except psycopg.errors.UniqueViolation as exc:
            raise ImportFailed(f"The import conflicts with rows already there ({exc.diag.message_primary}; "
                               f"{exc.diag.message_detail or ''}): nothing was imported.") from exc
    result.seconds = time.perf_counter() - clock
    return result


class _DryRun(Exception):
    """Leaves the transaction by rolling it back."""


def _stage_file(conn, source: sources.Opened, role, report: FileReport, result: ImportResult, now,
                limit: RejectLimit, on_progress: Progress | None, direct_days: set | None) -> bool:
    name = str(source.path)
    malformed: list[tuple[int | None, str, str]] = []

    def on_malformed(line: int | None, reason: str, text: str) -> None:
        malformed.append((line, reason, text))

    parser = formats.Parser(role, source.columns, now)
    newlines = role[0] == "shopify-orders"  # its notes may hold line breaks inside quotes

    def parsed() -> Iterator[tuple[pa.RecordBatch, formats.Prepared, list]]:
        for batch in sources.batches(source, on_malformed, newlines_in_values=newlines):
            prepared = parser(batch)
            bad_lines = list(malformed)
            malformed.clear()
            yield batch, prepared, bad_lines

    sessionless = False
    record = 0  # data records before this batch
    skipped_lines: list[int] = []  # lines of malformed rows: the records' lines step over them
    for batch, prepared, bad_lines in _prefetched(parsed()):
        reject_rows: list[tuple[str, int | None, str, str]] = []
        for line, reason, text in bad_lines:
            reject_rows.append((name, line, "wrong number of fields", text))
            result.rejected["wrong number of fields"] += 1
            _example(result, "wrong number of fields", text)
            if line is not None:
                bisect.insort(skipped_lines, line)
        if prepared.rejects:
            texts = _raw_text(batch, [i for i, _ in prepared.rejects])
            for (i, reason), text in zip(prepared.rejects, texts):
                # CSV: the file's line (exact unless quoted values span lines); other kinds: the record
                line = _line_of(record + i, skipped_lines) if source.kind == "csv" else record + i + 1
                reject_rows.append((name, line, reason, text))
                result.rejected[reason] += 1
                _example(result, reason, text)
        report.rows += prepared.rows + len(bad_lines)
        report.rejected += len(reject_rows)
        report.skipped += sum(prepared.skipped.values())
        result.rows_read += prepared.rows + len(bad_lines)
        result.skipped.update(prepared.skipped)
        record += prepared.rows
        if limit.percent is None and not limit.allows(result.rows_rejected, result.rows_read):
            raise TooManyRejected(
                f"More than {limit.describe()} failed validation (first reasons: "
                f"{', '.join(f'{r} ({n:,})' for r, n in result.rejected.most_common(3))}): nothing was imported.",
                result)
        if reject_rows:
            _copy_table(conn, "import_rejects", pa.table(
                {k: [r[j] for r in reject_rows] for j, k in enumerate(("source_file", "line", "reason", "raw_text"))},
                schema=pa.schema([("source_file", pa.string()), ("line", pa.int64()), ("reason", pa.string()),
                                  ("raw_text", pa.string())])))
        if prepared.events is not None and len(prepared.events):
            events = prepared.events
            result.events_staged += len(events)
            if direct_days is not None:
                known = events.session_id.any(axis=1)
                direct = _subset(events, known)
                _with_orders(direct)
                _copy_events(conn, direct, "raw.interactions")
                result.events_direct += len(direct)
                direct_days.update(np.unique(direct.occurred_at.astype("datetime64[D]")).tolist())
                events = _subset(events, ~known)
            _copy_events(conn, events)
            sessionless |= bool(len(events)) and prepared.sessionless
        _copy_table(conn, "import_users", prepared.users)
        _copy_table(conn, "import_products", prepared.products)
        _copy_table(conn, "import_properties", prepared.properties)
        _copy_table(conn, "import_tree", prepared.tree)
        if on_progress is not None:
            on_progress(name, report.rows, source.total_rows)
    return sessionless


def _line_of(record: int, skipped_lines: list[int]) -> int:
    """The line of data record `record` (0-based) after the header, stepping over malformed lines."""
    line = record + 2
    while True:
        moved = record + 2 + bisect.bisect_right(skipped_lines, line)
        if moved == line:
            return line
        line = moved


def _example(result: ImportResult, reason: str, text: str) -> None:
    examples = result.examples.setdefault(reason, [])
    if len(examples) < 3:
        examples.append(text[:200])


_NIL = "00000000-0000-0000-0000-000000000000"

# The events to move: one row per event_id (the first copy by time), with sessions and orders derived.
_STAGED = """
    staged as (
        select distinct on (event_id) *
        from import_events
        order by event_id, occurred_at, loaded_at
    )"""
_SESSIONS = """,
    sessionless as (
        select event_id, user_id, occurred_at,
               coalesce(occurred_at - lag(occurred_at) over w > make_interval(mins => %(gap)s), true) as starts
        from staged where session_id = '""" + _NIL + """'::uuid
        window w as (partition by user_id order by occurred_at, event_id)
    ),
    numbered as (
        select event_id, user_id, occurred_at,
               sum(starts::int) over (partition by user_id order by occurred_at, event_id) as session_no
        from sessionless
    ),
    derived as (
        select event_id,
               md5('session:' || user_id || ':' || to_char(min(occurred_at) over (partition by user_id, session_no)
                   at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'))::uuid as session_id
        from numbered
    )"""
_SELECT_PLAIN = """
    select event_id, session_id, user_id, product_id, event_type, quantity, unit_price,
           coalesce(order_id, case when event_type = 'purchase'
                                   then md5('order:' || user_id || ':' || session_id)::uuid end) as order_id,
           recommendation_variant, occurred_at
    from staged as s"""
_SELECT_DERIVED = """
    select s.event_id, coalesce(d.session_id, s.session_id) as session_id, user_id, product_id, event_type,
           quantity, unit_price,
           coalesce(order_id, case when event_type = 'purchase'
                    then md5('order:' || user_id || ':' || coalesce(d.session_id, s.session_id))::uuid end) as order_id,
           recommendation_variant, occurred_at
    from staged as s left join derived as d on d.event_id = s.event_id"""
_NEW_ONLY = """
    where not exists (
        select 1 from raw.interactions as r
        where r.event_id = s.event_id
          and cast(r.occurred_at at time zone 'UTC' as date) = cast(s.occurred_at at time zone 'UTC' as date)
    )"""

_CATEGORIES = """
    with recursive paths (categoryid, path, depth) as (
        select categoryid, categoryid, 0 from import_tree
        where parentid is null or parentid not in (select categoryid from import_tree)
        union all
        select t.categoryid, p.path || '/' || t.categoryid, p.depth + 1
        from import_tree as t join paths as p on t.parentid = p.categoryid
        where p.depth < 50
    ),
    chosen as (
        -- the category in force at the product's newest event; else the first one it ever had
        select distinct on (p.product_id) p.product_id, c.categoryid
        from import_products as p join import_properties as c on c.itemid = p.product_id
        where not p.authoritative
        order by p.product_id, (c.at <= p.last_seen) desc,
                 case when c.at <= p.last_seen then c.at end desc nulls last, c.at
    )
    update import_products as p
    set category = coalesce((select min(path) from paths where paths.categoryid = chosen.categoryid), chosen.categoryid)
    from chosen
    where p.product_id = chosen.product_id and not p.authoritative"""

_USERS = """
    with given as (
        select distinct on (user_id) user_id, email, full_name, country, channel, signup_at
        from import_users where authoritative
        order by user_id, last_seen desc
    ),
    seen as (
        select user_id,
               (array_agg(email order by last_seen desc) filter (where email is not null))[1] as email,
               (array_agg(full_name order by last_seen desc) filter (where full_name is not null))[1] as full_name,
               (array_agg(country order by last_seen desc) filter (where country is not null))[1] as country,
               min(first_seen) as signup_at
        from import_users where not authoritative and user_id not in (select user_id from given)
        group by user_id
    ),
    upsert_given as (
        insert into raw.users as u (user_id, email, full_name, country, channel, signup_at)
        select * from given
        on conflict (user_id) do update set email = excluded.email, full_name = excluded.full_name,
            country = excluded.country, channel = excluded.channel, signup_at = excluded.signup_at
        returning (xmax = 0) as inserted
    ),
    upsert_seen as (
        insert into raw.users as u (user_id, email, full_name, country, channel, signup_at)
        select user_id, email, full_name, country, null, signup_at from seen
        on conflict (user_id) do update set email = coalesce(u.email, excluded.email),
            full_name = coalesce(u.full_name, excluded.full_name), country = coalesce(u.country, excluded.country),
            signup_at = least(u.signup_at, excluded.signup_at)
        returning (xmax = 0) as inserted
    )
    select (select count(*) filter (where inserted) from upsert_given)
         + (select count(*) filter (where inserted) from upsert_seen)"""

_PRODUCTS = """
    with given as (
        select distinct on (product_id) product_id, sku, name, category, brand, price_cents / 100.0 as price,
               created_at, updated_at
        from import_products where authoritative
        order by product_id, updated_at desc
    ),
    seen as (
        select product_id,
               (array_agg(sku order by last_seen desc) filter (where sku is not null))[1] as sku,
               (array_agg(name order by last_seen desc) filter (where name is not null))[1] as name,
               (array_agg(category order by last_seen desc) filter (where category is not null))[1] as category,
               (array_agg(brand order by last_seen desc) filter (where brand is not null))[1] as brand,
               (array_agg(price_cents order by last_seen desc) filter (where price_cents > 0))[1] / 100.0 as price,
               min(first_seen) as created_at, max(last_seen) as updated_at
        from import_products where not authoritative and product_id not in (select product_id from given)
        group by product_id
    ),
    upsert_given as (
        insert into raw.products as p (product_id, sku, name, category, brand, price, created_at, updated_at)
        select * from given
        on conflict (product_id) do update set sku = excluded.sku, name = excluded.name,
            category = excluded.category, brand = excluded.brand, price = excluded.price,
            created_at = excluded.created_at, updated_at = excluded.updated_at
        returning (xmax = 0) as inserted
    ),
    upsert_seen as (
        insert into raw.products as p (product_id, sku, name, category, brand, price, created_at, updated_at)
        select * from seen
        on conflict (product_id) do update set
            sku = case when excluded.updated_at >= p.updated_at then coalesce(excluded.sku, p.sku) else coalesce(p.sku, excluded.sku) end,
            name = case when excluded.updated_at >= p.updated_at then coalesce(excluded.name, p.name) else coalesce(p.name, excluded.name) end,
            category = case when excluded.updated_at >= p.updated_at then coalesce(excluded.category, p.category) else coalesce(p.category, excluded.category) end,
            brand = case when excluded.updated_at >= p.updated_at then coalesce(excluded.brand, p.brand) else coalesce(p.brand, excluded.brand) end,
            price = case when excluded.updated_at >= p.updated_at then coalesce(excluded.price, p.price) else coalesce(p.price, excluded.price) end,
            created_at = least(p.created_at, excluded.created_at),
            updated_at = greatest(p.updated_at, excluded.updated_at)
        returning (xmax = 0) as inserted
    )
    select (select count(*) filter (where inserted) from upsert_given)
         + (select count(*) filter (where inserted) from upsert_seen)"""


# One pass over the days this import's direct rows touched: this import's extra copies of an event
# (the first copy stays, whoever wrote it) are deleted, and the users of its rows are staged.
_REPEATED = """
    with mine as (
        select (pg_current_xact_id()::text::bigint %% 4294967296)::text::xid as xid
    ),
    rows_of_days as materialized (
        select r.ctid, r.event_id, cast(r.occurred_at at time zone 'UTC' as date) as day,
               r.xmin = (select xid from mine) as ours, r.user_id, r.occurred_at
        from raw.interactions as r
        where cast(r.occurred_at at time zone 'UTC' as date) = any(%(days)s)
    ),
    repeated as (
        select event_id, day from rows_of_days group by event_id, day having count(*) > 1 and bool_or(ours)
    ),
    ranked as (
        select d.ctid, d.ours,
               row_number() over (partition by d.event_id, d.day order by d.ours, d.ctid) as copy_no
        from rows_of_days as d join repeated using (event_id, day)
    ),
    users as (
        insert into import_users (user_id, first_seen, last_seen, authoritative)
        select user_id, min(occurred_at), max(occurred_at), false from rows_of_days where ours group by user_id
    ),
    dropped as (
        delete from raw.interactions as r using ranked
        where r.ctid = ranked.ctid and ranked.ours and ranked.copy_no > 1
        returning 1
    )
    select count(*) from dropped"""
_USERS_OF_STAGED = """
    insert into import_users (user_id, first_seen, last_seen, authoritative)
    select user_id, min(occurred_at), max(occurred_at), false from import_events group by user_id"""


def _drop_repeated(conn: psycopg.Connection, result: ImportResult, days: list) -> None:
    """Remove this import's copies of events already in raw.interactions (or earlier in the files):
    the first copy stays, whoever wrote it. One pass over the days the import touched."""
    conn.execute("set local work_mem = '256MB'")
    removed = conn.execute(_REPEATED, {"days": days}).fetchone()[0]
    result.events_new += result.events_direct - removed


def _finish(conn: psycopg.Connection, result: ImportResult, *, sessionless: bool, started: datetime,
            dry_run: bool) -> None:
    conn.execute("set local work_mem = '256MB'")
    if result.events_staged - result.events_direct:
        conn.execute("analyze import_events")
    body = _STAGED + (_SESSIONS if sessionless else "")
    select = (_SELECT_DERIVED if sessionless else _SELECT_PLAIN) + _NEW_ONLY
    params = {"gap": SESSION_GAP_MINUTES}
    staged = result.events_staged - result.events_direct
    if dry_run:
        query = "with " + body + ", fresh as (" + select + ") select count(*) from fresh"
        result.events_new = conn.execute(query, params).fetchone()[0] if staged else 0
    else:
        conn.execute(_CATEGORIES)
        if staged:
            conn.execute(_USERS_OF_STAGED)
        result.products_new = conn.execute(_PRODUCTS).fetchone()[0]
        result.users_new = conn.execute(_USERS).fetchone()[0]
        if staged:
            columns = ("event_id, session_id, user_id, product_id, event_type, quantity, unit_price, order_id, "
                       "recommendation_variant, occurred_at")
            query = f"insert into raw.interactions ({columns}) with " + body + select
            result.events_new += conn.execute(query, params).rowcount
    result.events_present = result.events_staged - result.events_new
    if dry_run:
        return
    conn.execute(
        """insert into shop_meta.imports (import_id, started_at, finished_at, source_format, files, rows_read,
               events_new, events_present, rows_rejected, rows_skipped)
           values (%s, %s, clock_timestamp(), %s, %s, %s, %s, %s, %s, %s)""",
        (result.import_id, started, ",".join(sorted({f.role[0] for f in result.files})),
         json.dumps([{"file": str(f.path), "format": f.role[0], "role": f.role[1], "rows": f.rows,
                      "rejected": f.rejected, "skipped": f.skipped} for f in result.files]),
         result.rows_read, result.events_new, result.events_present, result.rows_rejected, result.rows_skipped),
    )
    conn.execute(
        """insert into raw.rejected_rows (import_id, source_file, line, reason, raw_text)
           select %s, source_file, line, reason, raw_text from import_rejects""",
        (result.import_id,),
    )
