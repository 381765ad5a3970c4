"""`shop import` end to end, per format, against the ceiling: a server-side COPY of the same rows.

    .venv/bin/python benchmarks/import.py [--rows 5000000] [--formats raw,rees46,retailrocket,shopify-orders]

Generates its own files (nothing downloaded) in a temporary directory, starts a private embedded
PostgreSQL, imports each file into a fresh database with `shop import` in a child process (its peak
memory from wait4's rusage), then times `COPY raw.interactions FROM '<csv>'` (server-side, CSV, the
same number of rows in the raw contract's columns) into another fresh database. Prints a table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from shopcore import db as shop_db  # noqa: E402
from shopcore import embedded  # noqa: E402
from shopcore.settings import Settings  # noqa: E402
from tests.importer import files  # noqa: E402

BLOCK = 500_000


def _write(path: Path, header: list[str], blocks) -> Path:
    schema = pa.schema([(c, pa.string()) for c in header])
    with pa_csv.CSVWriter(path, schema) as writer:
        for columns in blocks:
            writer.write_table(pa.table(columns).cast(schema))
    return path


def raw_interactions(path: Path, rows: int, rng) -> Path:
    start = np.datetime64("2024-01-01T00:00:00", "s")

    def blocks():
        for offset in range(0, rows, BLOCK):
            n = min(BLOCK, rows - offset)
            hexes = np.array([uuid.UUID(bytes=b).hex for b in _chunks(rng.bytes(16 * n))])
            sessions = np.array([uuid.UUID(bytes=b).hex for b in _chunks(rng.bytes(16 * n))])
            kinds = rng.choice(np.array(["view", "add_to_cart", "purchase"]), n, p=[0.9, 0.07, 0.03])
            t = pa.array((start + np.sort(rng.integers(0, 90 * 86400, n))).astype(str))
            yield {
                "event_id": pa.array(hexes), "session_id": pa.array(sessions),
                "user_id": pa.array(rng.integers(1, 300_000, n).astype(str)),
                "product_id": pa.array(rng.integers(1, 50_000, n).astype(str)),
                "event_type": pa.array(kinds), "quantity": pa.array(np.full(n, "1")),
                "unit_price": pa.array((rng.integers(100, 100_000, n) / 100).astype(str)),
                "occurred_at": pc.binary_join_element_wise(t, "Z", ""),
            }

    return _write(path, ["event_id", "session_id", "user_id", "product_id", "event_type", "quantity", "unit_price",
                         "occurred_at"], blocks())


def _chunks(data: bytes):
    return (data[i : i + 16] for i in range(0, len(data), 16))


def retailrocket(path: Path, rows: int, rng) -> Path:
    def blocks():
        for offset in range(0, rows, BLOCK):
            n = min(BLOCK, rows - offset)
            kinds = rng.choice(np.array(["view", "addtocart", "transaction"]), n, p=[0.95, 0.035, 0.015])
            ts = 1_433_221_332_117 + np.sort(rng.integers(0, 90 * 86_400_000, n))
            tx = np.where(kinds == "transaction", rng.integers(1, 20_000, n).astype(str), "")
            yield {"timestamp": pa.array(ts.astype(str)), "visitorid": pa.array(rng.integers(1, 1_400_000, n).astype(str)),
                   "event": pa.array(kinds), "itemid": pa.array(rng.integers(1, 235_000, n).astype(str)),
                   "transactionid": pa.array(tx)}

    return _write(path, ["timestamp", "visitorid", "event", "itemid", "transactionid"], blocks())


def shopify(path: Path, rows: int, rng) -> Path:
    def blocks():
        for offset in range(0, rows, BLOCK):
            n = min(BLOCK, rows - offset)
            order = (offset + np.arange(n)) // 3  # three line items per order
            first = (offset + np.arange(n)) % 3 == 0
            created = (np.datetime64("2024-01-01T00:00:00", "s") + order * 60).astype(str)
            yield {"Name": pa.array(np.char.add("#", order.astype(str))),
                   "Email": pa.array(np.where(first, np.char.add(np.char.add("c", (order % 50_000).astype(str)), "@x.com"), "")),
                   "Created at": pa.array(np.where(first, np.char.add(np.char.replace(created, "T", " "), " +0000"), "")),
                   "Lineitem quantity": pa.array(rng.integers(1, 4, n).astype(str)),
                   "Lineitem name": pa.array(np.char.add("Item ", rng.integers(1, 5_000, n).astype(str))),
                   "Lineitem price": pa.array((rng.integers(100, 10_000, n) / 100).astype(str)),
                   "Lineitem sku": pa.array(np.char.add("SKU-", rng.integers(1, 5_000, n).astype(str))),
                   "Billing Country": pa.array(np.where(first, "US", ""))}

    return _write(path, ["Name", "Email", "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price",
                         "Lineitem sku", "Billing Country"], blocks())


def fresh_db(admin: shop_db.ConnectionInfo, home: Path) -> shop_db.ConnectionInfo:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    info = shop_db.ConnectionInfo(admin.host, admin.port, admin.user, name, admin.password)
    shop_db.ready(Settings(home=home, database_url=info.url()))
    return info


def run_import(path: Path, info: shop_db.ConnectionInfo, home: Path, fmt: str) -> tuple[float, float, str]:
    env = {**os.environ, "SHOP_HOME": str(home), "SHOP_DATABASE_URL": info.url(), "COLUMNS": "200"}
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "shop", "import", "--format", fmt, "--max-rejected", "1%",
                              str(path)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"import failed:\n{output}")
    return seconds, usage.ru_maxrss / 1024, output


def ceiling(rows_csv: Path, info: shop_db.ConnectionInfo) -> float:
    with psycopg.connect(info.conninfo()) as conn:
        started = time.perf_counter()
        conn.execute(sql.SQL("copy raw.interactions (event_id, session_id, user_id, product_id, event_type, quantity, "
                             "unit_price, occurred_at) from {} (format csv, header true)").format(sql.Literal(str(rows_csv))))
        conn.commit()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--formats", default="raw,rees46,retailrocket,shopify-orders")
    args = parser.parse_args()
    console = Console()
    work = Path(tempfile.mkdtemp(prefix="shop-import-bench-"))
    os.chmod(work, 0o755)  # the embedded server (another OS user when run as root) reads the ceiling CSV
    home = work / "home"
    rng = np.random.default_rng(1)
    try:
        admin = shop_db.ready(Settings(home=home, database_url=None))
        console.print(f"generating {args.rows:,} rows per format under {work} ...")
        makers = {"raw": raw_interactions, "rees46": lambda p, r, g: files.big_rees46(p, r),
                  "retailrocket": retailrocket, "shopify-orders": shopify}
        # The ceiling reads the raw format's own file: the same rows, in the raw contract's columns.
        ceiling_csv = raw_interactions(work / "interactions.csv", args.rows, rng)
        os.chmod(ceiling_csv, 0o644)
        ceiling_s = ceiling(ceiling_csv, fresh_db(admin, home))
        ceiling_mb = ceiling_csv.stat().st_size / 1e6
        table = Table(title=f"shop import, {args.rows:,} rows per format (load: {os.getloadavg()[0]:.2f})")
        for column in ("format", "file MB", "seconds", "rows/s", "% of ceiling", "peak RSS MiB"):
            table.add_column(column, justify="right")
        table.add_row("ceiling: server COPY FROM csv", f"{ceiling_mb:,.0f}", f"{ceiling_s:.1f}",
                      f"{args.rows / ceiling_s:,.0f}", "100%", "")
        for fmt in args.formats.split(","):
            path = ceiling_csv if fmt == "raw" else makers[fmt](work / f"{fmt}.csv", args.rows, rng)
            seconds, peak, _ = run_import(path, fresh_db(admin, home), home, fmt)
            table.add_row(fmt, f"{path.stat().st_size / 1e6:,.0f}", f"{seconds:.1f}", f"{args.rows / seconds:,.0f}",
                          f"{ceiling_s / seconds:.0%}", f"{peak:,.0f}")
            path.unlink()
        console.print(table)
    finally:
        embedded.stop(home)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
