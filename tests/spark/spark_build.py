"""Build the warehouse on the dbt project's `spark` target and export what it built.

    python -m tests.spark.spark_build --home H --raw DIR [--late DIR] --export FILE

Runs in a process of its own (the test starts it), so the local Spark's JVM lives and dies with
it. With method `session`, dbt-spark starts Spark inside this process: every dbt invocation here
shares one JVM and one metastore (under H/spark).

1. `dbt build` (models and data tests) over the Parquet raw tables under --raw. With --late, the
   first build is `dbt run` (models only), then the Parquet files under --late move into --raw (a
   second load: late arrivals and redeliveries) and `dbt build` runs incrementally: its models must
   come out as a full build's would, and the data tests check them (once, to save time; with
   --all-tests also dbt's built-in generic tests, else only the project's own test SQL).
2. Write every table the warehouse built, as rows, to --export (a pickle: {relation: [dict]}).

Prints one JSON line with the times. Unit tests are left out: they prove the models' logic once,
on PostgreSQL, and their SQL fixtures use PostgreSQL types (uuid, timestamptz, arrays).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import sys
import time
from pathlib import Path

from shop import dbt_runner

EXPORTED_SCHEMAS = ("intermediate", "marts")


def spark_env(home: Path, raw: Path) -> dict[str, str]:
    """What profiles.example.yml's spark target reads: SHOP_HOME for the metastore and warehouse."""
    return {
        "SHOP_DBT_TARGET": "spark",
        "SHOP_HOME": str(home),
        "SHOP_RAW_PARQUET_DIR": str(raw),
        "TZ": "UTC",
    }


# dbt's own generic tests are its cross-database SQL; without --all-tests the build runs only the
# project's own test SQL (singular tests, dbt_project/tests/generic), which is what could be unportable.
DBT_BUILTIN_TESTS = ("test_name:unique", "test_name:not_null", "test_name:accepted_values", "test_name:relationships")


def dbt(command: str, env: dict[str, str], home: Path, *, all_tests: bool = False) -> dbt_runner.DbtResult:
    args = [command]
    if command == "build":
        args += ["--exclude-resource-type", "unit_test"]
        if not all_tests:
            args += ["--exclude", *DBT_BUILTIN_TESTS]
    result = dbt_runner.run_dbt(args, env, home=home)
    if not result.success:
        failing = ", ".join(result.failing_names) or result.exception or "see the log"
        sys.exit(f"dbt {command} on spark failed: {failing}\n" + "\n".join(result.errors[-20:]))
    return result


def move_load(late: Path, raw: Path) -> None:
    """Files of a second load join each raw table's directory, as a new Parquet part."""
    for table_dir in sorted(p for p in late.iterdir() if p.is_dir()):
        for part in sorted(table_dir.glob("*.parquet")):
            shutil.move(str(part), raw / table_dir.name / part.name)


def export_tables() -> dict[str, list[dict]]:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()  # the session dbt-spark started
    tables: dict[str, list[dict]] = {}
    for schema in EXPORTED_SCHEMAS:
        for row in spark.sql(f"show tables in {schema}").collect():
            if row.isTemporary:  # dbt's __dbt_tmp views of this session
                continue
            name = f"{schema}.{row.tableName}"
            tables[name] = [r.asDict() for r in spark.sql(f"select * from {name}").collect()]
    return tables


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="SHOP_HOME: dbt's files, Spark's metastore and tables")
    parser.add_argument("--raw", type=Path, required=True, help="the Parquet raw tables (shop simulate --format parquet)")
    parser.add_argument("--late", type=Path, help="a second load, moved into --raw before an incremental build")
    parser.add_argument("--export", type=Path, required=True, help="pickle file for the built tables' rows")
    parser.add_argument("--all-tests", action="store_true", help="also dbt's built-in generic tests (unique, not_null, ...)")
    args = parser.parse_args(argv)
    os.environ["TZ"] = "UTC"  # pyspark turns timestamps into naive datetimes in local time: make that UTC
    time.tzset()
    env = spark_env(args.home.resolve(), args.raw.resolve())
    if args.late is None:
        timings = {"build_s": round(dbt("build", env, args.home, all_tests=args.all_tests).elapsed, 1)}
    else:
        timings = {"first_run_s": round(dbt("run", env, args.home).elapsed, 1)}
        move_load(args.late, args.raw)
        timings["incremental_build_s"] = round(dbt("build", env, args.home, all_tests=args.all_tests).elapsed, 1)
    with open(args.export, "wb") as handle:
        pickle.dump(export_tables(), handle)
    print(json.dumps(timings))


if __name__ == "__main__":
    main()
