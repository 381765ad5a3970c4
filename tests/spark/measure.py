"""Measure a full warehouse build on both targets over the same simulated shop and print a table.

    .venv/bin/python -m tests.spark.measure [--users 2000 --products 400 --days 60 --seed 42]

Simulates one shop twice (into the embedded PostgreSQL of a temporary SHOP_HOME, and as Parquet),
then times `dbt build --exclude-resource-type unit_test` (every model and data test, from nothing)
on the `postgres` target and on the `spark` target (local[2], its JVM start included). A
measurement, not a test: the suite never asserts times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from shop import dbt_runner
from shopcore import db as shop_db
from shopcore import embedded
from shopcore.settings import Settings
from simulator import parquet, runner

REPO_ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--products", type=int, default=400)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    end = (datetime.now(timezone.utc) - timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
    params = runner.make_params(users=args.users, products=args.products, days=args.days, seed=args.seed, end=end)
    home = Path(tempfile.mkdtemp(prefix="shop-measure-"))
    try:
        info = shop_db.ready(Settings(home=home, database_url=None))
        loaded = runner.run_history(info, params)
        parquet.simulate_history(home / "raw", params)
        postgres = dbt_runner.run_dbt(["build", "--exclude-resource-type", "unit_test"], info.env(), home=home / "pg")
        if not postgres.success:
            sys.exit(f"postgres build failed: {postgres.failing_names} {postgres.exception or ''}")
        spark = subprocess.run(
            [sys.executable, "-m", "tests.spark.spark_build", "--home", str(home / "spark"), "--raw", str(home / "raw"),
             "--all-tests", "--export", str(home / "spark.pickle")],
            cwd=REPO_ROOT, env={**os.environ, "TZ": "UTC"}, capture_output=True, text=True,
        )
        if spark.returncode != 0:
            sys.exit(f"spark build failed:\n{spark.stderr[-3000:]}")
        spark_seconds = json.loads(spark.stdout.strip().splitlines()[-1])["build_s"]
        print(f"{loaded.events:,} events, {loaded.users:,} users, {loaded.products:,} products; "
              f"dbt build ({postgres.models} models, {postgres.data_tests} data tests), from nothing:")
        print(f"  postgres (embedded PostgreSQL)        {postgres.elapsed:7.1f} s")
        print(f"  spark (local[2], session, JVM start)  {spark_seconds:7.1f} s")
    finally:
        embedded.stop(home)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
