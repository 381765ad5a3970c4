"""Freshness of the live demo: how long an event takes to show up where people look.

    .venv/bin/python benchmarks/realtime.py                # starts a default demo in a temp home
    .venv/bin/python benchmarks/realtime.py --attach       # measures the demo already running
                                                           # (SHOP_HOME / SHOP_DATABASE_URL, --api-url)

Three measures, each as p50 / p95 / max over several probes:

* event -> recommendations, simulator path: a view is written to raw.interactions (as the live
  stream writes) for a user without history, then GET /recommendations is polled until the answer
  folds it in (``fresh_events >= 1`` and ``strategy: personalised``). Target <= 1 s.
* the same through the storefront path, POST /events. Target <= 1 s.
* event -> counted in marts.sales_summary: a purchase (a new order) is written; it counts once
  today's ``orders`` reach the number of today's orders staging (a view over raw) held when it was
  written. Probes are spread over several refresh intervals. Target <= 60 s with the default
  30 s refresh.

Probes are real events of real users and products, so the warehouse's tests keep passing. At the
end the per-variant click-through of the closed loop (marts.recommendation_variant_daily) is
printed too.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shopcore import db as shop_db  # noqa: E402
from shopcore.settings import Settings  # noqa: E402

console = Console(highlight=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_demo(args: argparse.Namespace, home: Path, api_port: int) -> tuple[subprocess.Popen, list[str]]:
    env = {k: v for k, v in os.environ.items() if k != "SHOP_DATABASE_URL"}
    env.update(SHOP_HOME=str(home), PYTHONUNBUFFERED="1", COLUMNS="160")
    command = [sys.executable, "-m", "shop", "demo", "--users", str(args.users), "--products", str(args.products),
               "--days", str(args.days), "--rate", str(args.rate), "--refresh-seconds", str(args.refresh_seconds),
               "--api-port", str(api_port), "--dashboard-port", str(free_port()), "--docs-port", str(free_port())]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    log = open(home / "benchmark-demo.out", "a", encoding="utf-8")  # noqa: SIM115 - closed with the process

    def pump() -> None:
        for line in iter(process.stdout.readline, ""):
            output.append(line)
            log.write(line)
            log.flush()

    threading.Thread(target=pump, daemon=True).start()
    started = time.monotonic()
    with console.status("starting the demo (simulate, build, train, serve) ..."):
        while not any("The shop is live" in line for line in output):
            if process.poll() is not None:
                raise SystemExit("the demo exited:\n" + "".join(output[-40:]))
            time.sleep(0.5)
    console.print(f"demo live after {time.monotonic() - started:.0f} s (home {home}, log benchmark-demo.out)")
    return process, output


def personalised_variants(client: httpx.Client) -> set[str]:
    card = client.get("/model").json()
    return {v["variant"] for v in card.get("variants", []) if v.get("source") != "popular"} or {"default"}


def cold_users(conn, client: httpx.Client, variants: set[str], n: int) -> list[int]:
    """Users without any event whose variant serves a model (the popular variant ignores events)."""
    candidates = [row[0] for row in conn.execute(
        "select u.user_id from raw.users u where not exists "
        "(select 1 from raw.interactions i where i.user_id = u.user_id) order by random() limit %s", (n * 6,))]
    chosen = []
    for user_id in candidates:
        if client.get(f"/recommendations/{user_id}?k=10").json()["variant"] in variants:
            chosen.append(user_id)
            if len(chosen) == n:
                break
    return chosen


def wait_until_folded(client: httpx.Client, user_id: int, start: float, timeout_s: float = 10.0) -> float:
    while True:
        body = client.get(f"/recommendations/{user_id}?k=10").json()
        if body["fresh_events"] >= 1 and body["strategy"] == "personalised":
            return time.perf_counter() - start
        if time.perf_counter() - start > timeout_s:
            return float("nan")
        time.sleep(0.01)


def recommendation_probes(conn, client: httpx.Client, products: list[int], n: int) -> tuple[list[float], list[float]]:
    variants = personalised_variants(client)
    users = cold_users(conn, client, variants, 2 * n)
    if len(users) < 2 * n:
        console.print(f"[yellow]only {len(users)} users without history serve a model; fewer probes[/]")
    via_db, via_api = [], []
    for i, user_id in enumerate(users):
        product = random.choice(products)
        start = time.perf_counter()
        if i % 2 == 0:  # the simulator's path: a row in raw.interactions
            conn.execute(
                "insert into raw.interactions (event_id, session_id, user_id, product_id, event_type, quantity, "
                "unit_price, occurred_at, loaded_at) select %s, %s, %s, product_id, 'view', 1, price, now(), now() "
                "from raw.products where product_id = %s",
                (uuid.uuid4(), uuid.uuid4(), user_id, product))
            via_db.append(wait_until_folded(client, user_id, start))
        else:  # the storefront's path
            event = {"session_id": str(uuid.uuid4()), "user_id": user_id, "product_id": product, "event_type": "view"}
            assert client.post("/events", json=event).status_code == 201
            via_api.append(wait_until_folded(client, user_id, start))
    return via_db, via_api


def summary_probes(conn, products: list[int], n: int, spacing_s: float, timeout_s: float) -> list[float]:
    """Purchases written every ``spacing_s``; seconds until marts.sales_summary counts each."""
    outstanding: list[tuple[float, int]] = []  # (written at, orders needed)
    waits: list[float] = []
    next_probe = time.monotonic()
    written = 0
    today = "cast(now() at time zone 'UTC' as date)"
    with console.status("event -> sales_summary probes ...") as status:
        while written < n or outstanding:
            now = time.monotonic()
            if written < n and now >= next_probe:
                user_id = conn.execute("select user_id from raw.users order by random() limit 1").fetchone()[0]
                conn.execute(
                    "insert into raw.interactions (event_id, session_id, user_id, product_id, event_type, quantity, "
                    "unit_price, order_id, occurred_at, loaded_at) select %s, %s, %s, product_id, 'purchase', 1, "
                    "price, %s, now(), now() from raw.products where product_id = %s",
                    (uuid.uuid4(), uuid.uuid4(), user_id, uuid.uuid4(), random.choice(products)))
                written_at = time.monotonic()
                (needed,) = conn.execute(
                    "select count(distinct order_id) from staging.stg_shop__interactions "
                    f"where event_type = 'purchase' and occurred_date = {today}").fetchone()
                outstanding.append((written_at, needed))
                written += 1
                next_probe = now + spacing_s
            row = conn.execute(f"select orders from marts.sales_summary where activity_date = {today}").fetchone()
            counted = row[0] if row else 0
            for probe in list(outstanding):
                if counted >= probe[1]:
                    waits.append(time.monotonic() - probe[0])
                    outstanding.remove(probe)
                elif time.monotonic() - probe[0] > timeout_s:
                    waits.append(float("nan"))
                    outstanding.remove(probe)
            status.update(f"event -> sales_summary probes: {len(waits)}/{n} counted, {len(outstanding)} waiting")
            time.sleep(0.25)
    return waits


def closed_loop_snapshot(conn, minutes: float) -> list[tuple]:
    """Let the closed loop run, then read the variant mart after the next refresh (before any probe:
    the probes' own GET /recommendations calls would count as served lists)."""
    deadline = time.monotonic() + minutes * 60
    with console.status(f"letting the closed loop run for {minutes:g} min ...") as status:
        while time.monotonic() < deadline:
            status.update(f"letting the closed loop run: {deadline - time.monotonic():.0f} s left")
            time.sleep(1)
        (builds,) = conn.execute("select count(*) from shop_meta.refresh_runs where kind = 'build'").fetchone()
        while conn.execute("select count(*) from shop_meta.refresh_runs where kind = 'build'").fetchone()[0] == builds:
            time.sleep(0.5)
    return conn.execute(
        "select variant, sum(impressions), sum(clicks), sum(purchases), sum(revenue) "
        "from marts.recommendation_variant_daily group by variant order by variant").fetchall()


def row(table: Table, name: str, values: list[float], unit: str, target: float) -> None:
    measured = np.array([v for v in values if not np.isnan(v)])
    missed = len(values) - len(measured)
    if len(measured) == 0:
        table.add_row(name, str(len(values)), "-", "-", "-", f"<= {target:g} {unit}", "no data")
        return
    p50, p95 = np.percentile(measured, 50), np.percentile(measured, 95)
    scale = 1000 if unit == "ms" else 1
    met = "yes" if p95 * scale <= target and missed == 0 else "no"
    table.add_row(name, f"{len(values)}" + (f" ({missed} timed out)" if missed else ""), f"{p50 * scale:,.1f}",
                  f"{p95 * scale:,.1f}", f"{measured.max() * scale:,.1f}", f"p95 <= {target:g} {unit}", met)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attach", action="store_true", help="measure a running demo instead of starting one")
    parser.add_argument("--api-url", default="http://127.0.0.1:8000", help="with --attach: the API's base URL")
    parser.add_argument("--home", type=Path, help="SHOP_HOME of the demo to start (default: a new temp dir)")
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--refresh-seconds", type=float, default=30.0)
    parser.add_argument("--rec-probes", type=int, default=20, help="probes per recommendation path")
    parser.add_argument("--summary-probes", type=int, default=12)
    parser.add_argument("--loop-minutes", type=float, default=5.0,
                        help="minutes of closed loop before the per-variant click-through is read")
    args = parser.parse_args()

    demo = None
    if args.attach:
        settings, base = Settings(), args.api_url
    else:
        home = (args.home or Path(tempfile.mkdtemp(prefix="shop-realtime-"))).resolve()
        home.mkdir(parents=True, exist_ok=True)
        os.environ["SHOP_HOME"] = str(home)
        os.environ.pop("SHOP_DATABASE_URL", None)
        api_port = free_port()
        demo, _ = start_demo(args, home, api_port)
        settings, base = Settings(home=home, database_url=None), f"http://127.0.0.1:{api_port}"
    try:
        info = shop_db.resolve(settings, start=False)
        with httpx.Client(base_url=base, timeout=10) as client, shop_db.connect(info, autocommit=True) as conn:
            with console.status("waiting for the first refresh of the warehouse ..."):
                while not conn.execute("select count(*) from shop_meta.refresh_runs "
                                       "where kind = 'build' and succeeded").fetchone()[0]:
                    time.sleep(1)
            variants = closed_loop_snapshot(conn, args.loop_minutes)
            products = [r[0] for r in conn.execute("select product_id from raw.products")]
            via_db, via_api = recommendation_probes(conn, client, products, args.rec_probes)
            spacing = args.refresh_seconds * 0.37  # lands at different points of the refresh cycle
            to_summary = summary_probes(conn, products, args.summary_probes, spacing, timeout_s=300)
            refreshes = conn.execute(
                "select count(*), percentile_cont(0.5) within group (order by extract(epoch from finished_at - "
                "started_at)) from shop_meta.refresh_runs where kind = 'build' and succeeded").fetchone()
            (events,) = conn.execute("select count(*) from raw.interactions").fetchone()
    finally:
        if demo is not None:
            demo.send_signal(signal.SIGINT)
            demo.wait(180)

    load = os.getloadavg()
    table = Table(title=f"Freshness of the live demo ({events:,} events; load {load[0]:.1f}/{load[1]:.1f}; "
                        f"{refreshes[0]} refreshes, median {refreshes[1] or 0:.1f} s, every {args.refresh_seconds:g} s)")
    for column in ("measure", "probes", "p50", "p95", "max", "target", "met"):
        table.add_column(column, justify="right" if column not in ("measure", "target") else "left")
    row(table, "event -> recommendations, raw insert (ms)", via_db, "ms", 1000)
    row(table, "event -> recommendations, POST /events (ms)", via_api, "ms", 1000)
    row(table, "event -> sales_summary (s)", to_summary, "s", 60)
    console.print(table)

    ctr = Table(title=f"Closed loop per variant after {args.loop_minutes:g} min live "
                      "(marts.recommendation_variant_daily, before the probes)")
    for column in ("variant", "lists served", "clicks", "click-through", "purchases", "revenue"):
        ctr.add_column(column, justify="right" if column != "variant" else "left")
    for variant, impressions, clicks, purchases, revenue in variants:
        rate = f"{clicks / impressions:.3f}" if impressions else "-"
        ctr.add_row(variant, f"{impressions:,}", f"{clicks:,}", rate, f"{purchases:,}", f"{revenue:,.2f}")
    console.print(ctr)


if __name__ == "__main__":
    main()
