"""The refresh loop's cost: an incremental `shop build` after the next day of a shop, against a full build.

    python benchmarks/refresh.py --users 500000           # ~4.5M events, the next day ~1.5% more
    python benchmarks/refresh.py                          # a smaller shop (45,000 accounts: ~0.4M events)
    python benchmarks/refresh.py --repo /work/main --python /work/main/.venv/bin/python   # another checkout
    python benchmarks/refresh.py --nodes 25               # and the incremental build's 25 slowest nodes
    python benchmarks/refresh.py --users 500000 --statements 25   # and their server CPU, per statement

Protocol (timed as whole commands, as the refresh loop runs them, Python start and dbt's parse included):
`shop simulate` a history of --days days ending at a fixed time, `shop build` (from nothing, untimed),
`shop build --full-refresh` (timed: the full build), `shop simulate --append` one more day,
`shop build` (timed: the incremental build). With --freshness (when the checkout has it) a build with
no new rows is timed without and with `--freshness`: the refresh loop's fixed cost and what the freshness
check adds to it. With --statements the server logs each statement's CPU (log_statement_stats), its
checkpoints and autovacuum runs during the incremental build, and the slowest nodes are listed with their
wall time beside their statements' CPU and elapsed time, then its heaviest statements: the benchmark's own
build, right after a full build and an append, which a restored copy of a shop (benchmarks/statements.py) is
not. Logging every statement costs a little: the timed figures of such a run are not the target's.
Everything runs under a SHOP_HOME of its own with its own embedded server, stopped at the end. Beside wall
time each row gives the command's own CPU seconds and the embedded server's (postmaster, backends and
workers) while it ran: under load they move least.

Target: incremental / full <= 0.10.

A history ending in the past is loaded at its end (no row of it arrives later), so every row the
appended day brings lands after the incremental models' watermark: the incremental build does a
real day's work.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import server_log
from shopcore import embedded
from shopcore.dbt_artifacts import RunResults, last_build_results_path, read_run_results

END = datetime(2026, 6, 1)


def server_cpu(home: Path) -> float:
    """CPU seconds (user + system) the home's embedded server has used so far: the postmaster, the
    backends and workers it has reaped, and those alive now (0.0 when it is not running)."""
    current = embedded.status(home)
    if not current.running or current.pid is None:
        return 0.0
    try:
        postmaster = psutil.Process(current.pid)
        times = postmaster.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in postmaster.children():
            try:
                child_times = child.cpu_times()
            except psutil.NoSuchProcess:  # exited since the listing: its CPU is in children_* next time
                continue
            total += child_times.user + child_times.system
    except psutil.NoSuchProcess:
        return 0.0
    return total


def shop(args: list[str], *, repo: Path, python: str, env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, the command's own CPU seconds and the embedded server's CPU seconds while it ran
    (user + system; the server is not the command's child): on a loaded machine the CPU figures move least."""
    home = Path(env["SHOP_HOME"])
    started, before, server_before = (time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN),
                                      server_cpu(home))
    done = subprocess.run([python, "-m", "shop", *args], cwd=repo, env=env, capture_output=True, text=True)
    seconds, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"shop {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    command = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, command, server_cpu(home) - server_before


def events(repo: Path, python: str, env: dict[str, str]) -> int:
    query = "select count(*) from raw.interactions"
    out = subprocess.run([python, "-m", "shop", "db", "psql", "-tA", "-c", query], cwd=repo, env=env,
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=45_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=66, help="days of history: the next day is ~1/days more")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout whose `shop` is measured")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--freshness", action="store_true", help="also time `shop build --freshness`")
    parser.add_argument("--nodes", type=int, default=0, metavar="N",
                        help="then print the incremental build's N slowest nodes (its run_results.json)")
    parser.add_argument("--statements", type=int, default=0, metavar="N",
                        help="log the incremental build's statements and print its N slowest nodes with their "
                             "statements' CPU, its N heaviest statements, and the checkpoints and autovacuum "
                             "runs during it")
    args = parser.parse_args()
    for flag in ("users", "products", "days"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be at least 1, not {getattr(args, flag)}")
    for flag in ("nodes", "statements"):
        if getattr(args, flag) < 0:
            parser.error(f"--{flag} must be 0 (off) or more, not {getattr(args, flag)}")

    load = os.getloadavg()
    home = Path(tempfile.mkdtemp(prefix="shop-refresh-bench-"))
    env = {**os.environ, "SHOP_HOME": str(home), "SHOP_DATABASE_URL": "", "COLUMNS": "120"}
    run = {"repo": args.repo.resolve(), "python": args.python, "env": env}
    rows: list[tuple[str, tuple[float, float, float]]] = []
    try:
        shop(["simulate", "--users", str(args.users), "--products", str(args.products), "--days", str(args.days),
              "--end", END.isoformat()], **run)
        history = events(**run)
        shop(["build"], **run)
        rows.append(("full build (`shop build --full-refresh`)", shop(["build", "--full-refresh"], **run)))
        shop(["simulate", "--append", "--end", (END + timedelta(days=1)).isoformat()], **run)
        added = events(**run) - history
        offset = server_log.turn_on(**run) if args.statements else 0
        rows.append((f"incremental build after {added:,} new events (`shop build`)", shop(["build"], **run)))
        incremental = read_run_results(last_build_results_path(home))
        logged = server_log.parse(server_log.read_since(home, offset)) if args.statements else None
        if args.freshness:
            # The fixed cost of a refresh with nothing new, without and with the freshness check: a
            # build with no new rows, so that nothing but the fixed cost is timed.
            rows.append(("no new rows (`shop build`)", shop(["build"], **run)))
            rows.append(("no new rows, then source freshness (`shop build --freshness`)",
                         shop(["build", "--freshness"], **run)))
    finally:
        subprocess.run([args.python, "-m", "shop", "db", "stop"], cwd=run["repo"], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)

    full = rows[0][1][0]
    print(f"\n{args.repo}: {history:,} events, the next day {added:,} ({added / history:.1%})\n")
    print(f"load average before / after: {load[0]:.1f} / {os.getloadavg()[0]:.1f}\n")
    print("| command | seconds | / full build | command's CPU s | server's CPU s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (seconds, cpu, server) in rows:
        print(f"| {name} | {seconds:.1f} | {seconds / full:.3f} | {cpu:.1f} | {server:.1f} |")
    if args.nodes:
        print_nodes(incremental, args.nodes)
    if logged:
        print_statements(incremental, logged, args.statements)


def print_nodes(results: RunResults, top: int) -> None:
    """Where the incremental build's dbt time went: per resource type, then the slowest nodes. Node times
    overlap (dbt runs SHOP_DBT_THREADS at once), so they add up to more than dbt's elapsed time."""
    print(f"\nthe incremental build's dbt run: {results.elapsed_s:.1f} s elapsed, {len(results.nodes)} nodes\n")
    print("| resource type | nodes | seconds (summed over threads) |")
    print("| --- | ---: | ---: |")
    kinds = sorted({node.resource_type for node in results.nodes})
    for kind in kinds:
        nodes = [node for node in results.nodes if node.resource_type == kind]
        print(f"| {kind} | {len(nodes)} | {sum(node.execution_time for node in nodes):.1f} |")
    print("\n| node | status | seconds |")
    print("| --- | --- | ---: |")
    for node in sorted(results.nodes, key=lambda node: -node.execution_time)[:top]:
        print(f"| {node.resource_type} {node.name} | {node.status} | {node.execution_time:.2f} |")


def print_statements(results: RunResults, logged: dict, top: int) -> None:
    """The slowest nodes' wall time beside their statements' CPU and elapsed time: where a node's wall
    is far above its statements' CPU it waited (for a core, the disk, a lock) or its time went outside
    the server (dbt's compile and bookkeeping)."""
    in_statements = sum(logged["per_node"].values())
    print(f"\nthe incremental build with every statement logged: {in_statements:.1f} CPU s in statements, "
          f"{logged['backends']} backends\n")
    print("| node | wall s | statements' CPU s | statements' elapsed s |")
    print("| --- | ---: | ---: | ---: |")
    for node in sorted(results.nodes, key=lambda node: -node.execution_time)[:top]:
        print(f"| {node.resource_type} {node.name} | {node.execution_time:.2f} "
              f"| {logged['per_node'].get(node.unique_id, 0.0):.2f} | {logged['elapsed_per_node'].get(node.unique_id, 0.0):.2f} |")
    server_log.print_heaviest(logged["statements"], top)
    server_log.print_events(logged["events"])


if __name__ == "__main__":
    main()
