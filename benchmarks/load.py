"""Generate + load throughput of the simulator against its ceiling, the server's own COPY.

    .venv/bin/python benchmarks/load.py [--users 420000 --products 3000 --days 120 --end 2026-01-01T00:00:00+00:00]

1. end to end: build the world, generate every day, encode, stream into raw.interactions in one
   transaction (what `shop simulate` does), with the loader process's peak memory;
2. the ceiling: the same rows written to a binary file, then loaded by the server itself with
   `COPY ... FROM 'file'` in the same way (indexes dropped and rebuilt), in the same run.
Uses a throw-away embedded server (or a fresh database on SHOP_DATABASE_URL's server).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from psycopg import sql
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.arguments import DEFAULT_END, history_end  # noqa: E402
from shopcore import db as shop_db  # noqa: E402
from shopcore import embedded  # noqa: E402
from shopcore.settings import Settings  # noqa: E402
from simulator import loader, runner  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # About 5M events (issue 17's scale): since visitor lifecycles most accounts visit once or twice.
    parser.add_argument("--users", type=int, default=420_000)
    parser.add_argument("--products", type=int, default=3_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--end", type=history_end, default=DEFAULT_END,
                        help="the history's end (ISO date or date-time; UTC without a time zone)")
    args = parser.parse_args()

    console = Console(width=120)
    home = Path(tempfile.mkdtemp(prefix="shop-bench-load-"))
    external = os.environ.get("SHOP_DATABASE_URL") or None
    settings = Settings(home=home, database_url=external)
    info = shop_db.ready(settings)
    dump_dir: Path | None = None
    try:
        params = runner.make_params(users=args.users, products=args.products, days=args.days,
                                    seed=args.seed, end=args.end)
        rss_before = peak_rss_mib()
        started = time.perf_counter()
        result = runner.run_history(info, params)
        end_to_end = time.perf_counter() - started
        rss_peak = peak_rss_mib()
        events = result.events

        # The ceiling: the server reads the very same rows from a file it can see.
        dump_dir = Path(tempfile.mkdtemp(prefix="shop-bench-copy-"))
        dump_dir.chmod(0o777)  # the embedded server runs as its own OS user
        dump = dump_dir / "interactions.bin"
        with shop_db.connect(info, autocommit=True) as conn:
            conn.execute(sql.SQL("copy raw.interactions to {} (format binary)").format(sql.Literal(str(dump))))
            with conn.transaction():
                conn.execute("truncate raw.interactions")
                indexes = loader._interaction_indexes(conn)
                for name, _ in indexes:
                    conn.execute(sql.SQL("drop index {}").format(sql.Identifier("raw", name)))
                ceiling_start = time.perf_counter()
                conn.execute(sql.SQL("copy raw.interactions from {} (format binary)").format(sql.Literal(str(dump))))
                for _, definition in indexes:
                    conn.execute(definition)
                ceiling = time.perf_counter() - ceiling_start
        dump.unlink()

        table = Table(title=f"generate + load: {args.users:,} users, {args.products:,} products, {args.days} days")
        for column in ("stage", "events", "seconds", "events/s", "share of ceiling", "peak RSS (loader)"):
            table.add_column(column, justify="right")
        table.add_row("end to end", f"{events:,}", f"{end_to_end:.1f}",
                      f"{events / end_to_end:,.0f}", f"{(events / end_to_end) / (events / ceiling):.0%}",
                      f"{rss_peak:,.0f} MiB (start {rss_before:,.0f})")
        table.add_row("loader transaction", f"{events:,}",
                      f"{result.seconds:.1f}", f"{events / result.seconds:,.0f}", "", "")
        table.add_row("ceiling: server COPY FROM file", f"{events:,}", f"{ceiling:.1f}",
                      f"{events / ceiling:,.0f}", "100%", "")
        console.print(table)
        console.print(
            "end to end = world + generate + encode + COPY stream + index rebuild, one transaction;\n"
            "loader transaction = the same without building the world; ceiling = the same rows read by\n"
            "the server from a binary file, indexes rebuilt the same way. RSS is the loader process's peak."
        )
    finally:
        if external is None:
            embedded.stop(home)
        # A 5M-event database and its dump take gigabytes: leave nothing behind on a shared disk.
        shutil.rmtree(home, ignore_errors=True)
        if dump_dir is not None:
            shutil.rmtree(dump_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
