"""`shop simulate --format parquet --out DIR`: the raw tables as Parquet, for the spark target.

No Spark needed here: the files are read back with pyarrow and compared with a database load of
the same parameters, and the command's refusals are checked.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq

from simulator.parquet import SERVED_RECOMMENDATIONS_SCHEMA, TABLES
from tests.support import run_shop
from tests.spark.tables import table_differences

SMALL = ("--users", "120", "--products", "30", "--days", "6", "--seed", "3", "--end", "2025-11-30T00:00")


def parquet_rows(out: Path, table: str) -> list[dict]:
    return pq.read_table(out / table).to_pylist()


# Columns the database sets itself, not the simulator: raw.users' change marker (migration 0015, the
# time of the write), which the Parquet output has no use for (the Spark build rewrites users whole).
DATABASE_ONLY = {"users": {"updated_at"}}


def database_rows(db, table: str) -> list[dict]:
    with db.connect() as conn:
        cursor = conn.execute(f"select * from raw.{table}")
        names = [column.name for column in cursor.description]
        own = DATABASE_ONLY.get(table, set())
        return [{name: value for name, value in zip(names, row) if name not in own} for row in cursor.fetchall()]


def test_parquet_holds_the_rows_a_database_load_holds(fresh_database, tmp_path):
    out = tmp_path / "raw"
    written = run_shop("simulate", *SMALL, "--format", "parquet", "--out", str(out), env=fresh_database.env)
    assert "as Parquet to" in written.stdout
    run_shop("simulate", *SMALL, env=fresh_database.env)
    assert sorted(p.name for p in out.iterdir()) == sorted(TABLES)  # nothing else left behind
    for table in ("users", "products", "interactions"):
        expected, found = database_rows(fresh_database, table), parquet_rows(out, table)
        assert len(found) > 10
        assert table_differences(expected, found) == [], table
    # Exact money, canonical UUID text: what the spark target reads.
    event = next(row for row in parquet_rows(out, "interactions") if row["order_id"] is not None)
    assert isinstance(event["unit_price"], Decimal) and event["unit_price"].as_tuple().exponent == -2
    assert len(event["event_id"]) == 36 and event["event_id"] == event["event_id"].lower()
    served = pq.read_table(out / "served_recommendations")
    assert served.num_rows == 0 and served.schema.equals(SERVED_RECOMMENDATIONS_SCHEMA)


def test_parquet_needs_a_fresh_directory_or_reset_and_no_database(tmp_path):
    env = {"SHOP_HOME": str(tmp_path / "home"), "SHOP_DATABASE_URL": ""}
    out = tmp_path / "raw"
    run_shop("simulate", *SMALL, "--format", "parquet", "--out", str(out), env=env)
    first = (out / "interactions" / "part-00000.parquet").read_bytes()
    again = run_shop("simulate", *SMALL, "--seed", "4", "--format", "parquet", "--out", str(out), env=env, check=False)
    assert again.returncode == 1 and "--reset" in again.stderr
    assert (out / "interactions" / "part-00000.parquet").read_bytes() == first
    run_shop("simulate", *SMALL, "--seed", "4", "--format", "parquet", "--out", str(out), "--reset", env=env)
    assert (out / "interactions" / "part-00000.parquet").read_bytes() != first
    assert not (tmp_path / "home" / "pgdata").exists(), "writing Parquet must not start a database"


def test_parquet_refuses_options_it_cannot_honour(tmp_path):
    env = {"SHOP_HOME": str(tmp_path / "home"), "SHOP_DATABASE_URL": ""}
    cases = [
        (("--format", "parquet"), "--out DIR"),
        (("--out", str(tmp_path / "x")), "only applies to --format parquet"),
        (("--format", "parquet", "--out", str(tmp_path / "x"), "--live"), "--live and --append"),
        (("--format", "parquet", "--out", str(tmp_path / "x"), "--append"), "--live and --append"),
        (("--format", "csv", "--out", str(tmp_path / "x")), "'csv' is not one of"),
    ]
    for args, message in cases:
        refused = run_shop("simulate", *args, env=env, check=False)
        assert refused.returncode == 2, args
        assert message in " ".join(refused.stderr.split()), (args, refused.stderr)
    file = tmp_path / "a-file"
    file.write_text("not a directory")
    refused = run_shop("simulate", *SMALL, "--format", "parquet", "--out", str(file), env=env, check=False)
    assert refused.returncode == 1 and "is a file" in refused.stderr
    assert not (tmp_path / "x").exists()
