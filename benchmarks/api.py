"""Recommendation API under load: wrk against one server, and how fast a new event shows.

    python benchmarks/api.py                        # 2,000 users, 300 products, 1 worker
    python benchmarks/api.py --workers 2 --duration 20 --connections 32

It uses its own SHOP_HOME (default /tmp/shop-api-bench, embedded PostgreSQL): the first run
simulates a shop, builds the warehouse and trains the default model there; later runs reuse it.
Then it starts `python -m recommender.api` (what `shop serve api` runs) on a free 127.0.0.1 port
and measures, in the same run and on the same server:

* GET /health/live (the framework's floor), then GET /recommendations/{random user}?k=10
  (users drawn uniformly from every user id, so some are unknown and get popular items);
  wrk with --latency, after a short warm-up of each;
* freshness: a newly registered user posts a view, then asks for recommendations until the
  answer has folded the event in (several trials; with --workers > 1 the two calls may reach
  different workers, which see the event through the database tail).

With --rounds N the two routes are measured alternately N times and the table shows the median
round (by req/s) of each, so that a burst of other work on a shared machine does not land on
one route only. Besides wrk's figures the table gives the server's CPU time per request (user +
system, every process of the server, from /proc): unlike req/s it hardly moves when other work
competes for the CPUs. The load average before and after is printed with the table.

Targets (issue 5): recommendations >= 70% of /health/live throughput; p99 <= 25 ms at 32
connections on 2 cores; zero errors; a new event visible within 1 s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from shopcore import db as shop_db  # noqa: E402
from shopcore.settings import Settings  # noqa: E402

LUA = """
math.randomseed(%(seed)d)
request = function()
  return wrk.format("GET", "/recommendations/" .. math.random(1, %(max_user)d) .. "?k=10")
end
"""


def prepare(home: Path, users: int, products: int, days: int) -> None:
    env = {**os.environ, "SHOP_HOME": str(home), "SHOP_DATABASE_URL": ""}
    settings = Settings(home=home, database_url=None)
    info = shop_db.ready(settings)
    with shop_db.connect(info) as conn:
        has_events = conn.execute("select exists (select 1 from raw.interactions)").fetchone()[0]
        built = conn.execute("select to_regclass('marts.user_item_interactions') is not null").fetchone()[0]
    if not has_events:
        print(f"simulating {users:,} users, {products:,} products, {days} days ...", flush=True)
        subprocess.run([sys.executable, "-m", "shop", "simulate", "--users", str(users), "--products",
                        str(products), "--days", str(days)], env=env, check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
    if not has_events or not built:
        print("building the warehouse ...", flush=True)
        from shop import dbt_runner

        result = dbt_runner.build(info.env(), home=home)
        if not result.success:
            raise SystemExit(f"dbt build failed: {result.failing_names}")
    from recommender import artifacts

    try:
        artifacts.current_path(home / "models")
    except artifacts.NoModelError:
        print("training the default model ...", flush=True)
        from threadpoolctl import threadpool_limits

        from recommender import data
        from recommender.algorithms import DEFAULT, make
        from recommender.matrix import build_data
        from recommender.model import TrainedModel

        with shop_db.connect(info) as conn:
            matrix = build_data(data.load_interactions(conn), data.load_catalogue(conn))
        with threadpool_limits(1, "blas"):
            model = TrainedModel(make(DEFAULT).fit(matrix), matrix, {})
        artifacts.save(model, home / "models")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wrk(url: str, *, duration: int, connections: int, threads: int, script: Path | None = None) -> dict:
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency", "--timeout", "5s"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout

    def latency(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return {"rps": rps, "p50": latency("50"), "p99": latency("99"), "requests": total, "errors": errors, "raw": out}


def _proc_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                pass
    return pids


def server_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) used so far by the server process and its workers; None off Linux."""
    total = 0.0
    try:
        for p in _proc_tree(pid):
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None
    return total


def measure(url: str, pid: int, **kwargs) -> dict:
    before = server_cpu_s(pid)
    run = wrk(url, **kwargs)
    after = server_cpu_s(pid)
    run["cpu_us"] = (after - before) / run["requests"] * 1e6 if before is not None and run["requests"] else None
    return run


def freshness(base: str, home: Path, products: list[int], trials: int) -> list[float]:
    info = shop_db.resolve(Settings(home=home, database_url=None), start=False)
    waits = []
    with httpx.Client(base_url=base, timeout=10) as client, shop_db.connect(info, autocommit=True) as conn:
        for i in range(trials):
            user_id = conn.execute("select coalesce(max(user_id), 0) + 1 from raw.users").fetchone()[0]
            conn.execute("insert into raw.users (user_id, email, full_name, country, channel, signup_at) values "
                         "(%s, %s, 'Bench User', 'DE', 'organic', now())", (user_id, f"bench-{uuid.uuid4().hex}@x.io"))
            event = {"session_id": str(uuid.uuid4()), "user_id": user_id, "product_id": products[i % len(products)],
                     "event_type": "view"}
            start = time.perf_counter()
            assert client.post("/events", json=event).status_code == 201
            while True:
                body = client.get(f"/recommendations/{user_id}").json()
                if body["fresh_events"] >= 1 and body["strategy"] == "personalised":
                    break
                if time.perf_counter() - start > 10:
                    raise SystemExit(f"user {user_id}'s event did not show within 10 s")
                time.sleep(0.005)
            waits.append((time.perf_counter() - start) * 1000)
    return waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=Path(tempfile.gettempdir()) / "shop-api-bench")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of wrk before each measured run")
    parser.add_argument("--trials", type=int, default=20, help="freshness trials")
    parser.add_argument("--rounds", type=int, default=1, help="measure the two routes alternately this many times")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    home = args.home.resolve()
    prepare(home, args.users, args.products, args.days)
    info = shop_db.resolve(Settings(home=home, database_url=None), start=False)
    with shop_db.connect(info) as conn:
        max_user = conn.execute("select max(user_id) from raw.users").fetchone()[0]
        products = [r[0] for r in conn.execute("select product_id from marts.products order by product_id limit 50")]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(home / "bench-server.log", "w")
    env = {**os.environ, "SHOP_HOME": str(home), "SHOP_DATABASE_URL": "", "OPENBLAS_NUM_THREADS": "1"}
    server = subprocess.Popen([sys.executable, "-m", "recommender.api", "--port", str(port),
                               "--workers", str(args.workers)], env=env, cwd=ROOT, stdout=log, stderr=log)
    try:
        deadline = time.time() + 120
        while True:
            try:
                if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.time() > deadline:
                raise SystemExit(f"the API did not become ready; see {home / 'bench-server.log'}")
            time.sleep(0.2)
        script = home / "random_user.lua"
        script.write_text(LUA % {"seed": 42, "max_user": max_user})
        routes = (("GET /health/live", f"{base}/health/live", None),
                  ("GET /recommendations/{random user}", base, script))
        load_before = os.getloadavg()
        rounds: dict[str, list[dict]] = {name: [] for name, _, _ in routes}
        for name, url, lua in routes:
            wrk(url, duration=args.warmup, connections=args.connections, threads=args.threads, script=lua)
        for _ in range(args.rounds):
            for name, url, lua in routes:
                rounds[name].append(measure(url, server.pid, duration=args.duration, connections=args.connections,
                                            threads=args.threads, script=lua))
        load_after = os.getloadavg()
        waits = freshness(base, home, products, args.trials)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()

    runs = {name: sorted(rs, key=lambda r: r["rps"])[len(rs) // 2] for name, rs in rounds.items()}
    live = runs["GET /health/live"]["rps"]
    live_cpu = runs["GET /health/live"]["cpu_us"]
    print(f"\nAPI benchmark: {args.workers} worker(s), {args.connections} connections, {args.duration} s per run, "
          f"{args.rounds} round(s) (median shown), {os.cpu_count()} CPUs (wrk on the same machine), "
          f"users 1..{max_user:,}; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after\n")
    print(f"| {'route':<36} | {'req/s':>8} | {'vs live':>7} | {'p50 ms':>7} | {'p99 ms':>7} | {'requests':>9} "
          f"| {'errors':>6} | {'CPU us/req':>10} | {'live/this CPU':>13} |")
    print(f"|{'-' * 38}|{'-' * 10}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 11}|{'-' * 8}|{'-' * 12}|{'-' * 15}|")
    for name, r in runs.items():
        cpu = f"{r['cpu_us']:>10.0f}" if r["cpu_us"] is not None else f"{'n/a':>10}"
        ratio = f"{live_cpu / r['cpu_us']:>13.0%}" if r["cpu_us"] and live_cpu else f"{'n/a':>13}"
        print(f"| {name:<36} | {r['rps']:>8,.0f} | {r['rps'] / live:>7.0%} | {r['p50']:>7.2f} | {r['p99']:>7.2f} "
              f"| {r['requests']:>9,} | {r['errors']:>6} | {cpu} | {ratio} |")
    if args.rounds > 1:
        for name, rs in rounds.items():
            print(f"  {name}: req/s per round " + ", ".join(f"{r['rps']:,.0f}" for r in rs)
                  + "; p99 ms " + ", ".join(f"{r['p99']:.1f}" for r in rs))
    print(f"\nnew user's POST /events -> GET /recommendations shows it: median {statistics.median(waits):.1f} ms, "
          f"max {max(waits):.1f} ms over {len(waits)} trials")
    rec = runs["GET /recommendations/{random user}"]
    verdict = [
        ("throughput >= 70% of /health/live", rec["rps"] / live >= 0.70),
        ("p99 <= 25 ms", rec["p99"] <= 25),
        ("zero errors", all(r["errors"] == 0 for rs in rounds.values() for r in rs)),
        ("new event visible within 1 s", max(waits) <= 1000),
    ]
    print("\n" + "\n".join(f"  [{'x' if ok else ' '}] {label}" for label, ok in verdict))


if __name__ == "__main__":
    main()
