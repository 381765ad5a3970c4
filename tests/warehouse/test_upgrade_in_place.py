"""A warehouse built by an older version is brought up to date by ordinary builds, without a
`--full-refresh`: the indexes a model no longer declares are dropped by its post-hook, and the
relations of models removed from the project are named after each `shop build` and dropped by
`shop build --drop-stale` (shop/stale_relations.py)."""

from __future__ import annotations

import re

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from shop import dbt_runner, stale_relations
from shop.cli import app as shop_cli
from shopcore import db as shop_db
from shopcore.settings import get_settings

from . import synthetic
from .support import build_ok, conninfo, drop_warehouse

pytestmark = pytest.mark.slow

SIZE = synthetic.ShopSize(events=1_200, users=60, products=15, days=6, chunks=2)
ENRICHED = "intermediate.int_interactions_enriched"


@pytest.fixture(scope="module")
def built(warehouse_env, dbt_home):
    """The first chunk of a small shop through int_interactions_enriched: the relations under test."""
    drop_warehouse(warehouse_env)
    with psycopg.connect(conninfo(warehouse_env)) as conn:
        synthetic.create_shop(conn, SIZE)
        synthetic.load_chunk(conn, SIZE, 0)
    return build_ok(warehouse_env, dbt_home, full_refresh=True, select=["+int_interactions_enriched"])


def _indexes(conn: psycopg.Connection) -> dict[str, str]:
    """Each index of the enriched table: its definition without its name (dbt's names hash the time)."""
    rows = conn.execute(
        "select indexname, indexdef from pg_indexes where schemaname = 'intermediate'"
        " and tablename = 'int_interactions_enriched'"
    ).fetchall()
    return {name: definition.split(" USING ", 1)[1] for name, definition in rows}


def test_an_incremental_build_drops_the_indexes_the_model_no_longer_declares(built, warehouse_env, dbt_home) -> None:
    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        kept = _indexes(conn)
        assert "btree (occurred_date, event_id)" in kept.values()  # the unique key
        # as a build before session 21 left them, and the plain order_id one of an older build (under
        # names of their own: the hook finds them by their columns), and two that look alike but are
        # not retired: other columns, a condition
        retired = {"btree (session_id)", "btree (user_id, product_id)", "btree (order_id)"}
        others = {"btree (product_id, user_id)", "btree (session_id) WHERE (session_id IS NOT NULL)"}
        for number, columns in enumerate(sorted(retired | others)):
            conn.execute(sql.SQL("create index {} on intermediate.int_interactions_enriched {}").format(
                sql.Identifier(f"int_interactions_enriched_hand_{number}"),
                sql.SQL(columns.removeprefix("btree ")),
            ))
        assert set(_indexes(conn).values()) == {*kept.values(), *retired, *others}
        synthetic.load_chunk(conn, SIZE, 1)
        build_ok(warehouse_env, dbt_home, select=["int_interactions_enriched"])
        after = _indexes(conn)
        (new_events,) = conn.execute(sql.SQL("select count(*) from {}").format(sql.SQL(ENRICHED))).fetchone()
    assert sorted(after.values()) == sorted([*kept.values(), *others])
    assert new_events > 0


def _cli_env(database, warehouse_env, home, monkeypatch) -> None:
    info = database.info
    url = shop_db.ConnectionInfo(info.host, info.port, info.user, warehouse_env["PGDATABASE"], info.password).url()
    monkeypatch.setenv("SHOP_HOME", str(home))
    monkeypatch.setenv("SHOP_DATABASE_URL", url)
    get_settings.cache_clear()


@pytest.fixture()
def shop_build(built, database, warehouse_env, dbt_home, monkeypatch):
    """`shop build --select stg_shop__users [extra]` in this process: a build of one view, so that
    every other relation of the project stands unselected. Returns its output."""
    _cli_env(database, warehouse_env, dbt_home, monkeypatch)
    runner = CliRunner()

    def run(*extra: str) -> str:
        outcome = runner.invoke(shop_cli, ["build", "--select", "stg_shop__users", *extra])
        assert outcome.exit_code == 0, outcome.output
        return outcome.output

    yield run
    get_settings.cache_clear()


# Left by a build of an older version (a model since removed, and a view over it with a name that
# needs quoting), and made by others in schemas dbt does not own.
STRAYS = [("intermediate", "int_activity_aggregated_to_users"), ("staging", "Old view; of it")]
OTHERS = [("raw", "stray_table"), ("shop_meta", "stray_table"), ("truth", "stray_table")]


def _exists(conn: psycopg.Connection, schema: str, name: str) -> bool:
    relation = sql.Identifier(schema, name).as_string(conn)
    return conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


@pytest.fixture()
def strays(built, warehouse_env):
    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        yield conn
        for schema, name in [*OTHERS, *STRAYS]:
            conn.execute(sql.SQL("drop table if exists {} cascade").format(sql.Identifier(schema, name)))


def _make_strays(conn: psycopg.Connection) -> None:
    (schema, table), (view_schema, view) = STRAYS
    conn.execute(sql.SQL("create table {} (user_id bigint)").format(sql.Identifier(schema, table)))
    conn.execute(sql.SQL("create view {} as select * from {}").format(
        sql.Identifier(view_schema, view), sql.Identifier(schema, table)))
    for other in OTHERS:
        conn.execute(sql.SQL("create table {} (x int)").format(sql.Identifier(*other)))


def test_a_build_names_the_relations_no_model_builds_and_keeps_them(shop_build, strays) -> None:
    assert "stale" not in shop_build()  # a clean warehouse: nothing to say
    _make_strays(strays)
    output = shop_build()
    (line,) = [line for line in output.splitlines() if "stale:" in line]
    assert "2 relations" in line and "`shop build --drop-stale` drops them" in line
    assert "intermediate.int_activity_aggregated_to_users (table)" in line
    assert "staging.Old view; of it (view)" in line
    # the project's relations this build did not select are the project's all the same
    assert "int_interactions_enriched" not in output and "stg_shop__" not in output
    assert not any(schema in output for schema, _ in OTHERS)
    assert all(_exists(strays, *relation) for relation in [*STRAYS, *OTHERS])


def test_drop_stale_drops_them_and_nothing_else(shop_build, strays) -> None:
    _make_strays(strays)
    (line,) = [line for line in shop_build("--drop-stale").splitlines() if "dropped" in line]
    assert line.startswith("dropped 2 relations that no model of the project builds:")
    assert not any(_exists(strays, *relation) for relation in STRAYS)
    assert all(_exists(strays, *relation) for relation in OTHERS)
    assert _exists(strays, "intermediate", "int_interactions_enriched")
    assert _exists(strays, "staging", "stg_shop__interactions")
    assert "stale" not in shop_build()
    again = shop_build("--drop-stale")
    assert "nothing to drop" in again and "dropped" not in again


def test_a_stale_relation_something_else_depends_on_is_not_dropped(built, warehouse_env, strays) -> None:
    """Without CASCADE, in one transaction: a view outside the project's schemas over a stale table
    stops the drop, with PostgreSQL's reason, and nothing at all is dropped."""
    schemas = frozenset({"staging", "intermediate", "marts"})
    owned = frozenset(strays.execute("select table_schema, table_name from information_schema.tables"
                                     " where table_schema = any(%s)", (list(schemas),)).fetchall())
    _make_strays(strays)
    strays.execute("create view raw.stray_view as select * from intermediate.int_activity_aggregated_to_users")
    try:
        stale = stale_relations.find(strays, stale_relations.ProjectRelations("postgres", schemas, owned))
        assert [str(relation) for relation in stale] == ["intermediate.int_activity_aggregated_to_users",
                                                         "staging.Old view; of it"]
        with pytest.raises(stale_relations.StaleDropFailed, match="nothing was dropped: cannot drop table"):
            stale_relations.drop(strays, stale)
        assert all(_exists(strays, *relation) for relation in STRAYS)
        assert _exists(strays, "intermediate", "int_interactions_enriched")
    finally:
        strays.execute("drop view raw.stray_view")


def test_the_new_day_analyze_asks_autovacuum_to_yield_at_once(built, warehouse_env, dbt_home) -> None:
    """An analyze waiting for an autovacuum of its table (the first vacuum of a table a full build
    just wrote) cancels it only after `deadlock_timeout`: analyze_if_new shortens that wait where the
    role may (a superuser, as here), in the same transaction as the analyze, which then runs for real."""
    log = dbt_runner.dbt_home(dbt_home) / "logs" / "dbt.log"
    with psycopg.connect(conninfo(warehouse_env), autocommit=True) as conn:
        # a table without statistics is analyzed by the hook, as one with a day its statistics do not know
        conn.execute(sql.SQL("delete from pg_catalog.pg_statistic where starelid = cast({} as regclass)").format(
            sql.Literal(ENRICHED)))
        offset = log.stat().st_size if log.exists() else 0
        build_ok(warehouse_env, dbt_home, select=["int_interactions_enriched"])
        (analyzed,) = conn.execute(sql.SQL("select count(*) from pg_catalog.pg_statistic where starelid = "
                                           "cast({} as regclass)").format(sql.Literal(ENRICHED))).fetchone()
    with log.open(encoding="utf-8", errors="replace") as handle:
        handle.seek(offset)
        hook = handle.read()
    assert analyzed > 0
    assert re.search(r"set local deadlock_timeout = '\d+ms';\s*analyze \"[^\"]+\"\.\"intermediate\"\."
                     r"\"int_interactions_enriched\"", hook)
