"""Where an incremental build's server time goes: CPU per dbt node and per statement, on a kept shop.

    python benchmarks/statements.py --workdir /var/tmp/stmts --users 500000   # make the shop (once), profile 3 builds
    python benchmarks/statements.py --workdir /var/tmp/stmts --repo ../other --python ../other/.venv/bin/python
    python benchmarks/statements.py --workdir /var/tmp/stmts --runs 5 --statements 40

Protocol: the shop of benchmarks/refresh.py (`shop simulate` a history, `shop build`, `shop build
--full-refresh`, `shop simulate --append` of the next day, not yet built) is made once under
WORKDIR/pristine with its server stopped, and kept: a second call with the same WORKDIR reuses it (it
names the users, products and days it was made with). Each run copies it to WORKDIR/home (the same path
every time, so dbt reads the kept parse state and the unit-test gate holds, as in the refresh loop),
turns on PostgreSQL's `log_statement_stats` (each statement's user and system CPU, written to the server
log; checkpoints and autovacuum runs are logged too), runs one incremental `shop build` of --repo and
reads the log (kept as WORKDIR/logs/STARTED-run-N.log, STARTED the invocation's start: each statement's
full text beside its figures, which the printed 90 characters cannot show). dbt's query comment names
the node each statement ran for. Beside them: the server's CPU in all (its processes, from psutil:
statements, backends' start-up, parallel workers, background writers), the command's own CPU, and the
backends the build started (distinct process ids in the log).

A different --repo than the one that made the shop re-parses the project in every run (the command's
CPU is higher; the server's figures are unaffected), and where its project differs its unit tests run
too (the gate sees new code): their rows are listed apart. Rows are medians over the runs.
This is a profile, not the refresh target: `benchmarks/refresh.py` times whole commands.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import server_log
from benchmarks.refresh import END, ROOT, shop


def make_shop(pristine: Path, home: Path, args: argparse.Namespace, run: dict) -> None:
    """The refresh benchmark's shop, one day appended and not built, server stopped: made at `home`,
    the path every run restores it to (dbt's parse state and the unit-test gate hold the path), then
    moved to `pristine`."""
    env = {**run["env"], "SHOP_HOME": str(home)}
    steps = [["simulate", "--users", str(args.users), "--products", str(args.products), "--days", str(args.days),
              "--end", END.isoformat()],
             ["build"], ["build", "--full-refresh"],
             ["simulate", "--append", "--end", (END + timedelta(days=1)).isoformat()]]
    for step in steps:
        print(f"making the shop: shop {' '.join(step)}", file=sys.stderr, flush=True)
        shop(step, repo=run["repo"], python=run["python"], env=env)
    subprocess.run([run["python"], "-m", "shop", "db", "stop"], cwd=run["repo"], env=env, check=True,
                   capture_output=True)
    home.rename(pristine)
    (pristine / "statements-shop.json").write_text(json.dumps(
        {"users": args.users, "products": args.products, "days": args.days}), encoding="utf-8")


def profile_once(pristine: Path, home: Path, run: dict, keep_log: Path) -> dict:
    """One incremental build on a fresh copy of the kept shop; its statement log, parsed (and kept at
    `keep_log`)."""
    if home.exists():
        shutil.rmtree(home)
    # cp -a keeps the owner: as root the embedded server runs as an OS user of its own, who owns pgdata.
    # "pristine/." copies the directory's contents: a pristine that is a symlink to a shop kept
    # elsewhere (one shop shared by several workdirs) is copied, not linked and then built on.
    subprocess.run(["cp", "-a", f"{pristine}/.", str(home)], check=True)
    env = {**run["env"], "SHOP_HOME": str(home)}

    def db(*argv: str) -> None:
        subprocess.run([run["python"], "-m", "shop", "db", *argv], cwd=run["repo"], env=env, check=True,
                       capture_output=True)

    db("start")
    try:
        offset = server_log.turn_on(run["repo"], run["python"], env)
        seconds, command_cpu, server_cpu = shop(["build"], **{**run, "env": env})
        text = server_log.read_since(home, offset)
    finally:
        db("stop")
    keep_log.parent.mkdir(parents=True, exist_ok=True)
    keep_log.write_text(text, encoding="utf-8")
    return {"seconds": seconds, "command_cpu": command_cpu, "server_cpu": server_cpu, **server_log.parse(text)}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def report(runs: list[dict], top_nodes: int, top_statements: int) -> None:
    print("| run | build s | command CPU s | server CPU s | in statements s | backends |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for number, result in enumerate(runs, 1):
        print(f"| {number} | {result['seconds']:.1f} | {result['command_cpu']:.1f} | {result['server_cpu']:.1f} "
              f"| {sum(result['per_node'].values()):.2f} | {result['backends']} |")
    nodes = {name for result in runs for name in result["per_node"]}
    rows = sorted(((median([result["per_node"].get(name, 0.0) for result in runs]), name) for name in nodes),
                  reverse=True)
    for title, unit_tests in (("nodes", False), ("unit tests (they ran: the project differs from the shop's)", True)):
        chosen = [(cpu, name) for cpu, name in rows if name.startswith("unit_test.") == unit_tests]
        if not chosen:
            continue
        print(f"\n{title}: statement CPU s, median over {len(runs)} run(s), {len(chosen)} in all\n")
        print("| node | CPU s |")
        print("| --- | ---: |")
        for cpu, name in chosen[:top_nodes]:
            print(f"| {name} | {cpu:.2f} |")
    server_log.print_heaviest(runs[-1]["statements"], top_statements, f"of run {len(runs)} ")
    server_log.print_events(runs[-1]["events"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True, help="where the shop is kept (several GB at 500,000)")
    parser.add_argument("--users", type=int, default=45_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=66)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout whose `shop build` is profiled")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--nodes", type=int, default=30, metavar="N", help="print the N heaviest nodes")
    parser.add_argument("--statements", type=int, default=20, metavar="N", help="print the N heaviest statements")
    args = parser.parse_args()
    for flag in ("users", "products", "days", "runs", "nodes", "statements"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be at least 1, not {getattr(args, flag)}")
    if args.workdir.exists() and not args.workdir.is_dir():
        parser.error(f"--workdir {args.workdir} is a file, not a directory")

    workdir = args.workdir.resolve()
    pristine, home = workdir / "pristine", workdir / "home"
    run = {"repo": args.repo.resolve(), "python": args.python,
           "env": {**os.environ, "SHOP_DATABASE_URL": "", "COLUMNS": "120"}}
    made = pristine / "statements-shop.json"
    if made.is_file():
        kept = json.loads(made.read_text(encoding="utf-8"))
        print(f"the kept shop of {workdir}: {kept}", file=sys.stderr)
    else:
        for unfinished in (pristine, home):  # a shop whose making was interrupted
            if unfinished.exists():
                shutil.rmtree(unfinished)
        workdir.mkdir(parents=True, exist_ok=True)
        make_shop(pristine, home, args, run)
    runs = []
    started = datetime.now().strftime("%Y%m%d-%H%M%S")
    for number in range(1, args.runs + 1):
        print(f"run {number} of {args.runs}", file=sys.stderr, flush=True)
        runs.append(profile_once(pristine, home, run, workdir / "logs" / f"{started}-run-{number}.log"))
    shutil.rmtree(home, ignore_errors=True)
    print(f"\n{args.repo}: one incremental `shop build` of the appended day, {args.runs} run(s)\n")
    report(runs, args.nodes, args.statements)


if __name__ == "__main__":
    main()
