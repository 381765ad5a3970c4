"""The embedded database's lifecycle through the real `shop db` commands."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from tests.support import private_home, run_shop


@pytest.fixture()
def home():
    path = private_home()
    env = {"SHOP_HOME": str(path / "home"), "SHOP_DATABASE_URL": ""}
    yield env
    run_shop("db", "stop", env=env, check=False)
    shutil.rmtree(path, ignore_errors=True)


def _exports(output: str) -> dict[str, str]:
    values = {}
    for line in output.splitlines():
        assert line.startswith("export "), line
        key, _, value = line.removeprefix("export ").partition("=")
        values[key] = value.strip("'")
    return values


def test_start_is_idempotent_and_stop_is_clean(home):
    first = run_shop("db", "start", env=home)
    assert "Started" in first.stdout
    second = run_shop("db", "start", env=home)
    assert "already running" in second.stdout

    status = run_shop("db", "status", env=home)
    assert "running" in status.stdout and "PostgreSQL 18" in status.stdout

    assert "Stopped" in run_shop("db", "stop", env=home).stdout
    stopped = run_shop("db", "status", env=home, check=False)
    assert stopped.returncode == 1 and "stopped" in stopped.stdout
    assert "was not running" in run_shop("db", "stop", env=home).stdout


def test_data_survives_a_restart_and_migrations_apply_once(home):
    run_shop("db", "start", env=home)
    conninfo = run_shop("db", "url", env=home).stdout.strip()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("insert into raw.users values (1, 'a@example.com', 'A', 'DE', 'organic', now())")
        applied = conn.execute("select version from shop_meta.schema_migrations order by 1").fetchall()
    run_shop("db", "stop", env=home)
    run_shop("db", "start", env=home)
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("select count(*) from raw.users").fetchone()[0] == 1
        assert conn.execute("select version from shop_meta.schema_migrations order by 1").fetchall() == applied
    assert [v for (v,) in applied][:2] == ["0001", "0002"]


def test_env_exports_work_for_plain_psql(home):
    exports = _exports(run_shop("db", "env", env=home).stdout)
    assert {"PGHOST", "PGPORT", "PGUSER", "PGDATABASE"} <= exports.keys()
    # The exports alone (no SHOP_ variables) must reach the database, as psql and dbt would.
    with psycopg.connect("", **{"host": exports["PGHOST"], "port": exports["PGPORT"],
                                "user": exports["PGUSER"], "dbname": exports["PGDATABASE"]}) as conn:
        assert conn.execute("select count(*) from raw.interactions").fetchone()[0] == 0
    psql = run_shop("db", "psql", "-Atc", "select 40 + 2", env=home)
    assert psql.stdout.strip() == "42"


def test_other_commands_start_the_server_on_demand(home):
    assert run_shop("db", "status", env=home, check=False).returncode == 1
    run_shop("db", "url", env=home)
    assert run_shop("db", "status", env=home).returncode == 0


def test_unwritable_home_says_what_to_do(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run_shop("db", "start", env={"SHOP_HOME": str(blocker / "home"), "SHOP_DATABASE_URL": ""}, check=False)
    assert result.returncode == 1
    assert "not a writable directory" in result.stderr and "SHOP_HOME" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/shop", "must start with postgresql://"),
        ("postgresql://user@localhost:notaport/shop", "port"),
        ("postgresql://user:secret@127.0.0.1:9/shop", "Cannot connect"),
    ],
)
def test_bad_or_unreachable_external_url_is_a_clear_error(tmp_path: Path, url: str, message: str):
    result = run_shop("db", "status", env={"SHOP_HOME": str(tmp_path), "SHOP_DATABASE_URL": url}, check=False)
    assert result.returncode == 1
    assert message in result.stderr
    assert "secret" not in result.stderr  # never echo a password
    assert "Traceback" not in result.stderr


def test_stop_refuses_an_external_server(tmp_path: Path):
    env = {"SHOP_HOME": str(tmp_path), "SHOP_DATABASE_URL": "postgresql://u@127.0.0.1:9/x"}
    result = run_shop("db", "stop", env=env, check=False)
    assert result.returncode == 1 and "not ours to stop" in result.stderr


def test_psql_passes_through_exit_status(home, tmp_path: Path):
    ok = run_shop("db", "psql", "-Atc", "select 41 + 1", env=home, check=False)
    assert (ok.returncode, ok.stdout.strip()) == (0, "42")
    failed = run_shop("db", "psql", "-Atc", "select * from no_such_table", env=home, check=False)
    assert failed.returncode == 1 and "no_such_table" in failed.stderr  # psql's own code for a failed command
    script = tmp_path / "stop_on_error.sql"
    script.write_text("select 1;\nselect * from no_such_table;\nselect 2;\n")
    stopped = run_shop("db", "psql", "-At", "-v", "ON_ERROR_STOP=1", "-f", str(script), env=home, check=False)
    assert stopped.returncode == 3 and stopped.stdout.split() == ["1"]  # psql's code for a script stopped on error
