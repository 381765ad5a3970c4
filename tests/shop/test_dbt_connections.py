"""A dbt thread keeps its connection between nodes (shop/dbt_connections.py): each node still starts on
a clean session, a broken connection is not reused, and no backend outlives the run."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from shop import dbt_connections, dbt_runner
from tests.shop.support import assert_state_kept_alike
from tests.support import TestDatabase

PROFILE = """
probe:
  target: pg
  outputs:
    pg:
      type: postgres
      host: "{{ env_var('PGHOST') }}"
      port: "{{ env_var('PGPORT') | as_number }}"
      user: "{{ env_var('PGUSER') }}"
      password: "{{ env_var('PGPASSWORD', '') }}"
      dbname: "{{ env_var('PGDATABASE') }}"
      schema: probe
      threads: 1
"""

# One thread runs the nodes in this order: a_leaves (what it leaves behind), b_sees (on the same
# connection, sees none of it), c_breaks (its backend terminated: the node fails), d_after (a new one).
MODELS = {
    "a_leaves": """
{{ config(materialized='table',
          pre_hook=["create temp table left_by_a (x int)",
                    "set work_mem = '7MB'",
                    "set default_transaction_isolation = 'serializable'",
                    "select pg_advisory_lock(20201)"],
          post_hook=[{'sql': "begin; insert into public.notes values ('uncommitted')", 'transaction': false}]) }}
select pg_backend_pid() as pid
""",
    "b_sees": """
{{ config(materialized='table') }}
select
    (select pid from {{ ref('a_leaves') }}) as a_pid,
    pg_backend_pid() as pid,
    to_regclass('pg_temp.left_by_a') is not null as temp_table_seen,
    current_setting('work_mem') as work_mem,
    current_setting('TimeZone') as time_zone,
    (select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()) as advisory_locks,
    (select count(*) from public.notes) as notes,
    current_setting('transaction_isolation') as isolation
""",
    "c_breaks": """
{{ config(materialized='table', pre_hook="select pg_terminate_backend(pg_backend_pid())") }}
select * from {{ ref('b_sees') }}
""",
    "d_after": """
{{ config(materialized='table') }}
select pg_backend_pid() as pid, (select pid from {{ ref('b_sees') }}) as b_pid
""",
}


def _project(root: Path) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text("name: probe\nversion: '1.0.0'\nprofile: probe\nconfig-version: 2\n")
    (root / "profiles.yml").write_text(PROFILE)
    for name, text in MODELS.items():
        (root / "models" / f"{name}.sql").write_text(text)
    return root


@pytest.fixture()
def bare_database(database) -> Iterator[TestDatabase]:
    """A database of its own on the session's server, without the shop's schemas (nothing here reads them)."""
    name = f"shop_conn_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database.info.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    yield TestDatabase(replace(database.info, dbname=name), database.env)
    with psycopg.connect(database.info.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


def _dbt_backends(database) -> int:
    with database.connect() as conn:
        return conn.execute(
            "select count(*) from pg_stat_activity where datname = current_database() and application_name = 'dbt'"
        ).fetchone()[0]


def test_each_node_starts_on_a_clean_session_of_a_kept_connection(bare_database, tmp_path: Path,
                                                                  monkeypatch) -> None:
    from dbt.cli.main import dbtRunner

    # The interface the keeping relies on is dbt's: when it moves, this fails (each node opens its own).
    assert dbt_connections.can_keep()
    project = _project(tmp_path / "project")
    for key, value in {**dbt_runner.DEFAULT_ENV, **bare_database.info.env()}.items():
        monkeypatch.setenv(key, value)
    # A setting the connection is opened with: the session's default, which the reset keeps.
    monkeypatch.setenv("PGTZ", "Pacific/Chatham")
    with bare_database.connect() as conn:
        conn.execute("create table public.notes (note text)")
        conn.commit()
        default_work_mem = conn.execute("show work_mem").fetchone()[0]
    assert default_work_mem != "7MB"

    with dbt_connections.kept_per_thread():
        outcome = dbtRunner().invoke(["run", "--project-dir", str(project), "--profiles-dir", str(project),
                                      "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
                                      "--quiet", "--log-level", "none", "--no-write-json"])
    assert outcome.result is not None, outcome.exception
    statuses = {result.node.name: str(result.status) for result in outcome.result.results}
    assert statuses == {"a_leaves": "success", "b_sees": "success", "c_breaks": "error", "d_after": "success"}

    with bare_database.connect() as conn:
        seen = conn.execute(
            "select a_pid, pid, temp_table_seen, work_mem, time_zone, advisory_locks, notes, isolation from probe.b_sees"
        ).fetchone()
        after = conn.execute("select pid, b_pid from probe.d_after").fetchone()
    a_pid, b_pid, temp_table_seen, work_mem, time_zone, advisory_locks, notes, isolation = seen
    assert b_pid == a_pid, "the node after did not run on the kept connection"
    assert (temp_table_seen, work_mem, advisory_locks, notes) == (False, default_work_mem, 0, 0)
    assert (time_zone, isolation) == ("Pacific/Chatham", "read committed")
    # The terminated backend's connection was dropped, not handed to the next node.
    assert after[0] != after[1]
    # Everything kept was closed with the run (a backend leaves shortly after its client).
    deadline = time.monotonic() + 10
    while _dbt_backends(bare_database) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _dbt_backends(bare_database) == 0
    # Outside, dbt's own release is back.
    from dbt.adapters.postgres.connections import PostgresConnectionManager

    assert "release" not in PostgresConnectionManager.__dict__
    # The state this run parsed (real nodes, hooks, dbt's and the adapter's macros) reads back from its
    # pickle as the manifest dbt decodes (shop/parse_state_cache.py).
    assert_state_kept_alike(tmp_path, (tmp_path / "target" / "partial_parse.msgpack").read_bytes(), monkeypatch)


def test_another_release_keeps_dbts_behaviour(monkeypatch) -> None:
    from dbt.adapters.postgres.connections import PostgresConnectionManager

    def own_release(self) -> None:
        raise AssertionError("not called here")

    monkeypatch.setattr(PostgresConnectionManager, "release", own_release, raising=False)
    assert not dbt_connections.can_keep()
    with dbt_connections.kept_per_thread():
        assert PostgresConnectionManager.release is own_release


def test_a_closed_or_foreign_handle_is_not_reset(bare_database) -> None:
    import psycopg2

    handle = psycopg2.connect(bare_database.info.conninfo())
    handle.close()
    assert not dbt_connections.reset_session(handle)
    assert not dbt_connections.reset_session(object())
