"""Warehouse build time: full build at 1M and 5M events, then an incremental build after ~1% new events.

    python benchmarks/warehouse.py                 # 1M and 5M events
    python benchmarks/warehouse.py --events 200000 # any sizes

It works in its own database (`shop_warehouse_benchmark`) on the project's server (the embedded one
unless SHOP_DATABASE_URL is set) and leaves the shop's own database alone. The history is loaded in
daily batches' worth of rows (loaded_at spread over 100 days, with late and duplicated deliveries),
batch after batch, each shuffled, so raw lies in load order as daily loads would leave it;
the incremental step loads the last day's batch (about 1% of the events, plus late events for the
two days before and redeliveries). Unit tests are excluded from both builds: they run on fixtures,
not on data, so their cost does not change with the data size.

Target: incremental / full <= 0.10 at 5M events.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "warehouse"))

import synthetic  # noqa: E402  (tests/warehouse/synthetic.py)

from shop import dbt_runner  # noqa: E402
from shopcore import db
from shopcore.migrate import apply_migrations  # noqa: E402
from shopcore.settings import get_settings  # noqa: E402

DATABASE = "shop_warehouse_benchmark"
DAYS = 100  # one load batch per day: the last batch is ~1% of the events


def prepare_database(info: db.ConnectionInfo) -> dict[str, str]:
    with psycopg.connect(info.conninfo(dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
    with psycopg.connect(info.conninfo(dbname=DATABASE)) as conn:
        apply_migrations(conn)
    return {**info.env(), "PGDATABASE": DATABASE}


def timed_build(env: dict[str, str], home: Path, *, full_refresh: bool, slowest: int = 0) -> float:
    result = dbt_runner.build(env, home=home, full_refresh=full_refresh, exclude=["test_type:unit"])
    if not result.success:
        raise SystemExit(f"build failed: {result.failing_names} {result.exception or ''}")
    if slowest:
        nodes = sorted(result.nodes, key=lambda node: node.execution_time, reverse=True)[:slowest]
        listed = ", ".join(f"{node.name} {node.execution_time:.1f}s" for node in nodes)
        print(f"    slowest nodes: {listed}", flush=True)
    return result.elapsed


def run(events: int, info: db.ConnectionInfo, home: Path) -> dict[str, float]:
    size = synthetic.ShopSize(
        events=events,
        users=max(100, events // 50),
        products=max(50, min(5_000, events // 500)),
        days=DAYS,
        chunks=DAYS,
        start="2024-01-01",
    )
    env = prepare_database(info)
    started = time.perf_counter()
    with psycopg.connect(info.conninfo(dbname=DATABASE)) as conn:
        synthetic.create_shop(conn, size)
        history = synthetic.load_chunk(conn, size, size.chunks - 2, upto=True)
        conn.execute("analyze raw.interactions")
    generated = time.perf_counter() - started
    print(f"  {events:>9,} events: {history:,} raw rows generated and loaded in {generated:.0f}s", flush=True)

    # A first build creates the objects (and warms the caches); the timed full build rebuilds all.
    timed_build(env, home, full_refresh=True)
    full = timed_build(env, home, full_refresh=True, slowest=8)
    print(f"  full build: {full:.1f}s", flush=True)

    with psycopg.connect(info.conninfo(dbname=DATABASE)) as conn:
        new_rows = synthetic.load_chunk(conn, size, size.chunks - 1)
    incremental = timed_build(env, home, full_refresh=False, slowest=12)
    print(f"  incremental build after {new_rows:,} new raw rows: {incremental:.1f}s", flush=True)
    return {
        "events": events,
        "raw_rows": history,
        "new_rows": new_rows,
        "full_s": full,
        "incremental_s": incremental,
        "ratio": incremental / full,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    args = parser.parse_args()

    info = db.resolve()
    home = get_settings().home_dir / "benchmark"
    rows = []
    for events in args.events:
        rows.append(run(events, info, home))

    print()
    print("| events | raw rows | new rows | full build (s) | incremental build (s) | incremental / full |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['events']:,} | {row['raw_rows']:,} | {row['new_rows']:,} | {row['full_s']:.1f} "
            f"| {row['incremental_s']:.1f} | {row['ratio']:.3f} |"
        )
    if not args.keep:
        with psycopg.connect(info.conninfo(dbname="postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))


if __name__ == "__main__":
    main()
