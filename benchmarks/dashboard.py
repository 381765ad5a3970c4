"""Overview page render time with 100k and with 5M events in the warehouse.

    python benchmarks/dashboard.py                         # 100k and 5M events, 5 runs each
    python benchmarks/dashboard.py --events 100000 --runs 3
    python benchmarks/dashboard.py --reuse                 # keep databases prepared by an earlier run

Each size gets its own database (`shop_dashboard_bench_<events>`) on the project's server (the
embedded one unless SHOP_DATABASE_URL is set): `shop simulate` fills it (60 days ending now, users
scaled to reach the event count) and `dbt run` builds the marts. The Overview page is then rendered
server-side with Streamlit's AppTest (every query, KPI and Plotly figure; no browser), cold (query
cache cleared before each run: what the first visitor after the cache's ttl waits for) and warm.
The Overview's metrics are planned by MetricFlow from SHOP_HOME's semantic manifest once per process
(the uncounted first run), as in the dashboard.

Target: cold render at 5M <= 2x the one at 100k: the page reads daily marts, not raw events.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shop import dbt_runner  # noqa: E402
from shopcore import db
from shopcore.migrate import apply_migrations  # noqa: E402

DAYS = 60
# Measured with visitor lifecycles (most accounts come once and go quiet): 1,701 accounts over 60 days
# gave 14k events, 85,034 gave 785k; benchmarks/refresh.py's 500,000 over 66 days give ~4.5M.
EVENTS_PER_USER_DAY = 0.137
ENTRYPOINT = ROOT / "app" / "streamlit_app.py"


def database_name(events: int) -> str:
    return f"shop_dashboard_bench_{events}"


def shop_size(events: int) -> tuple[int, int]:
    users = max(100, round(events / (DAYS * EVENTS_PER_USER_DAY)))
    products = max(300, users // 40)
    return users, products


def event_count(info: db.ConnectionInfo) -> int | None:
    """Events in a prepared benchmark database whose marts are built; None when not usable."""
    try:
        with psycopg.connect(info.conninfo()) as conn:
            built = conn.execute("select to_regclass('marts.sales_summary') is not null").fetchone()[0]
            return conn.execute("select count(*) from raw.interactions").fetchone()[0] if built else None
    except psycopg.OperationalError:
        return None


def prepare(events: int, server: db.ConnectionInfo, home: Path) -> tuple[db.ConnectionInfo, int]:
    name = database_name(events)
    info = db.ConnectionInfo(server.host, server.port, server.user, name, server.password, server.embedded)
    with psycopg.connect(server.conninfo(dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    with psycopg.connect(info.conninfo()) as conn:
        apply_migrations(conn)
    users, products = shop_size(events)
    print(f"[{events:,}] simulating {users:,} users, {products:,} products, {DAYS} days ...", flush=True)
    env = {**os.environ, "SHOP_DATABASE_URL": info.url(), "SHOP_HOME": str(home)}
    subprocess.run(
        [sys.executable, "-m", "shop", "simulate", "--users", str(users), "--products", str(products),
         "--days", str(DAYS), "--seed", "42"],
        env=env, check=True, stdout=subprocess.DEVNULL, cwd=ROOT,
    )
    print(f"[{events:,}] building the marts (dbt run) ...", flush=True)
    result = dbt_runner.run_dbt(["run"], info.env(), home=home)
    if not result.success:
        raise SystemExit(f"dbt run failed: {result.failing_names} {result.exception or ''}")
    # What autovacuum would do shortly after a build; done now so that it does not run during the timing.
    with psycopg.connect(info.conninfo(), autocommit=True) as conn:
        conn.execute("vacuum analyze")
    return info, event_count(info) or 0


def render_times(info: db.ConnectionInfo, home: Path, runs: int, *, cold: bool) -> list[float]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["SHOP_DATABASE_URL"] = info.url()
    os.environ["SHOP_HOME"] = str(home)  # the semantic manifest the Overview's metrics are planned from
    times = []
    # The first run warms Python's imports and plans the Overview's metric queries (once per process
    # and version of the semantic manifest); it is not counted.
    for _ in range(runs + 1):
        if cold:
            st.cache_data.clear()
        app = AppTest.from_file(str(ENTRYPOINT), default_timeout=120)
        started = time.perf_counter()
        app.run()
        times.append(time.perf_counter() - started)
        if app.exception or app.error:
            raise SystemExit(f"the Overview page failed: {[e.value for e in [*app.exception, *app.error]]}")
        if len(app.metric) != 5:
            raise SystemExit("the Overview page drew no KPI cards: is the warehouse empty?")
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="+", default=[100_000, 5_000_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="keep a prepared database of the same size")
    args = parser.parse_args()

    server = db.resolve()
    home = Path(tempfile.mkdtemp(prefix="shop-dashboard-bench-"))
    rows = []
    for events in args.events:
        info = db.ConnectionInfo(server.host, server.port, server.user, database_name(events), server.password, server.embedded)
        loaded = event_count(info) if args.reuse else None
        if loaded is None:
            info, loaded = prepare(events, server, home)
        else:
            print(f"[{events:,}] reusing {database_name(events)} ({loaded:,} events)", flush=True)
        planned = dbt_runner.ensure_semantic_manifest(info.env(), home=home)
        if planned is not None and not planned.success:
            raise SystemExit(f"dbt parse failed: {planned.exception}")
        cold = render_times(info, home, args.runs, cold=True)
        warm = render_times(info, home, args.runs, cold=False)
        rows.append((events, loaded, statistics.median(cold), statistics.median(warm)))

    print()
    print(f"{'target events':>14} {'raw events':>12} {'cold render (s)':>16} {'warm render (s)':>16}")
    for events, loaded, cold, warm in rows:
        print(f"{events:>14,} {loaded:>12,} {cold:>16.3f} {warm:>16.3f}")
    if len(rows) >= 2:
        small, large = rows[0], rows[-1]
        print(f"\ncold ratio {large[0]:,} / {small[0]:,} events: {large[2] / small[2]:.2f}x (target <= 2x); "
              f"warm ratio: {large[3] / small[3]:.2f}x")


if __name__ == "__main__":
    main()
