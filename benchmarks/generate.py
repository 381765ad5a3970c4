"""Generation speed of history without a database: world build, event generation, binary encoding.

    .venv/bin/python benchmarks/generate.py [--users 420000 --products 3000 --days 120 --scenario general]

Issue 17 keeps generation of history "at most 20% slower" at 5M events; since most visitors come
once, 5M events take about 420,000 accounts (50,000 before visitor lifecycles). Each stage is timed
by the wall clock and by the process's CPU time: on a shared machine the CPU time is the steadier
figure, and it is the one to compare between checkouts (run them alternately, and say the load).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.arguments import DEFAULT_END, history_end  # noqa: E402
from shopcore.copy_binary import encode_interactions  # noqa: E402
from simulator import runner  # noqa: E402
from simulator.generate import generate_history  # noqa: E402
from simulator.world import build_world  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=420_000)
    parser.add_argument("--products", type=int, default=3_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--end", type=history_end, default=DEFAULT_END,
                        help="the history's end (ISO date or date-time; UTC without a time zone)")
    parser.add_argument("--scenario", default="general")
    args = parser.parse_args()

    params = runner.make_params(users=args.users, products=args.products, days=args.days, seed=args.seed,
                                end=args.end, scenario=args.scenario)
    wall, cpu = time.perf_counter(), time.process_time()
    world = build_world(params)
    world_wall, world_cpu = time.perf_counter() - wall, time.process_time() - cpu
    events = encoded = 0
    encode_wall = encode_cpu = 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in generate_history(world):
        events += len(batch)
        w, c = time.perf_counter(), time.process_time()
        encoded += len(encode_interactions(batch))
        encode_wall += time.perf_counter() - w
        encode_cpu += time.process_time() - c
    generate_wall = time.perf_counter() - wall - encode_wall
    generate_cpu = time.process_time() - cpu - encode_cpu

    table = Table(title=f"generate history: {args.scenario}, {args.users:,} users, {args.products:,} products, "
                        f"{args.days} days: {events:,} events, {encoded / 1e6:,.0f} MB binary COPY")
    for column in ("stage", "wall s", "CPU s", "CPU µs / event", "events / CPU s"):
        table.add_column(column, justify="right")
    stages = [("world build", world_wall, world_cpu), ("events", generate_wall, generate_cpu),
              ("world + events", world_wall + generate_wall, world_cpu + generate_cpu),
              ("binary encoding", encode_wall, encode_cpu)]
    for name, w, c in stages:
        table.add_row(name, f"{w:.1f}", f"{c:.2f}", f"{c / events * 1e6:.2f}", f"{events / c:,.0f}")
    Console(width=120).print(table)
    print(f"load average {os.getloadavg()[0]:.1f} when the table printed")


if __name__ == "__main__":
    main()
