"""`shop simulate` end to end against a real PostgreSQL: loads, refusals, append, reset, live."""

from __future__ import annotations

import hashlib
import re
import signal
import subprocess
import sys
import os
import time
from datetime import datetime, timezone

import numpy as np
import pytest

from tests.support import REPO_ROOT, run_shop

SMALL = ("--users", "300", "--products", "80", "--days", "20", "--end", "2025-11-30T00:00")


def _counts(db) -> tuple[int, int, int, int]:
    with db.connect() as conn:
        return tuple(
            conn.execute(f"select count(*) from {table}").fetchone()[0]
            for table in ("raw.users", "raw.products", "raw.interactions", "truth.simulation_runs")
        )


def _content_digest(db) -> str:
    """A digest of every raw row except the times of the load, allowed to differ between runs: the events'
    loaded_at and the users' updated_at (migration 0015)."""
    with db.connect() as conn:
        rows = conn.execute(
            """
            select event_id, session_id, user_id, product_id, event_type, quantity, unit_price,
                   order_id, recommendation_variant, occurred_at
            from raw.interactions order by event_id, occurred_at, event_type
            """
        ).fetchall()
        users = conn.execute("select user_id, email, full_name, country, channel, signup_at"
                             " from raw.users order by user_id").fetchall()
        products = conn.execute("select * from raw.products order by product_id").fetchall()
    return hashlib.sha256(repr((rows, users, products)).encode()).hexdigest()


def test_history_loads_users_products_events_and_truth(fresh_database):
    result = run_shop("simulate", *SMALL, env=fresh_database.env)
    assert "Loaded" in result.stdout
    users, products, events, runs = _counts(fresh_database)
    assert (users, products, runs) == (300, 80, 1)
    assert events > 1000
    with fresh_database.connect() as conn:
        truth_users = conn.execute("select count(*) from truth.users").fetchone()[0]
        affinity = conn.execute(
            "select count(*) from truth.user_product_affinity where user_id = 1"
        ).fetchone()[0]
        window = conn.execute("select min(occurred_at), max(occurred_at) from raw.interactions").fetchone()
        people = conn.execute("select email, full_name from raw.users").fetchall()
    assert truth_users == 300 and affinity == 80
    # Names and addresses (UTF-8 bytes in the simulator) arrive whole, accents included.
    assert all(re.fullmatch(r"[a-z0-9._]+@[a-z0-9.]+\.[a-z]+", email) for email, _ in people)
    assert all(re.fullmatch(r"\S+( \S+)+", name) for _, name in people)
    assert any(not name.isascii() for _, name in people)
    assert len({email for email, _ in people}) == 300
    assert window[1].isoformat() < "2025-11-30T00:00:00+00:00"
    assert window[0].isoformat() >= "2025-11-10T00:00:00+00:00"


def test_prices_move_and_the_truth_keeps_their_history(fresh_database):
    run_shop("simulate", *SMALL, env=fresh_database.env)
    with fresh_database.connect() as conn:
        # Every event carries the price in force when it occurred (the truth's price history).
        mismatched = conn.execute(
            """
            select count(*) from raw.interactions as i
            where i.unit_price * 100 <> (
                select h.price_cents from truth.product_prices as h
                where h.product_id = i.product_id and h.valid_from <= greatest(i.occurred_at, (
                    select min(valid_from) from truth.product_prices where product_id = i.product_id))
                order by h.valid_from desc limit 1)
            """
        ).fetchone()[0]
        promotions, changed = conn.execute(
            "select count(*) filter (where is_promotion), count(distinct product_id) from truth.product_prices"
        ).fetchone()
        # raw.products holds the current price: the last of each product's history.
        current = conn.execute(
            """
            select count(*) from raw.products as p
            where p.price * 100 <> (select h.price_cents from truth.product_prices as h
                                    where h.product_id = p.product_id order by h.valid_from desc limit 1)
            """
        ).fetchone()[0]
        complements = conn.execute("select count(*) from truth.product_complements").fetchone()[0]
        taste_rows = conn.execute("select count(*) from truth.user_taste").fetchone()[0]
    assert mismatched == 0 and current == 0
    assert promotions > 0 and changed == 80 and complements > 80
    assert taste_rows == 300


def test_a_scenario_builds_its_own_kind_of_shop(fresh_database):
    run_shop("simulate", "--scenario", "media", *SMALL, env=fresh_database.env)
    with fresh_database.connect() as conn:
        brands, categories, prices = conn.execute(
            "select count(distinct brand), count(distinct category), count(distinct price) from raw.products"
        ).fetchone()
        (parameters,) = conn.execute("select parameters from truth.simulation_runs").fetchone()
    assert (brands, categories, prices) == (1, 1, 1)
    assert parameters["scenario"] == "media" and parameters["users"] == 300


def test_the_truth_view_gives_the_world_models_affinity(fresh_database):
    """truth.user_product_affinity (what `shop evaluate`'s truth NDCG reads) against the Python formula."""
    run_shop("simulate", *SMALL, env=fresh_database.env)
    _assert_the_truth_view_gives_the_world_models_affinity(fresh_database, [1, 2, 150, 300])


def _assert_the_truth_view_gives_the_world_models_affinity(db, user_ids: list[int]) -> None:
    from simulator.runner import restore_world

    with db.connect() as conn:
        (parameters,) = conn.execute("select parameters from truth.simulation_runs order by run_id limit 1").fetchone()
        rows = conn.execute(
            "select user_id, product_id, affinity from truth.user_product_affinity "
            "where user_id = any(%s) order by user_id, product_id", (user_ids,)
        ).fetchall()
        world = restore_world(conn, parameters)
    assert len(rows) == len(set(user_ids)) * 80
    for user_id in user_ids:
        from_sql = [float(affinity) for uid, _, affinity in rows if uid == user_id]
        assert [pid for uid, pid, _ in rows if uid == user_id] == list(range(1, 81))
        assert from_sql == pytest.approx(world.affinity(user_id - 1).tolist(), abs=1e-9)


def test_same_seed_same_rows_different_seed_different_rows(fresh_database):
    run_shop("simulate", *SMALL, env=fresh_database.env)
    first = _content_digest(fresh_database)
    run_shop("simulate", *SMALL, "--reset", env=fresh_database.env)
    assert _content_digest(fresh_database) == first
    run_shop("simulate", *SMALL, "--reset", "--seed", "7", env=fresh_database.env)
    assert _content_digest(fresh_database) != first


def test_history_into_a_non_empty_database_names_the_flags_and_writes_nothing(fresh_database):
    run_shop("simulate", *SMALL, env=fresh_database.env)
    before = _counts(fresh_database)
    again = run_shop("simulate", *SMALL, env=fresh_database.env, check=False)
    assert again.returncode == 1
    assert "--append" in again.stderr and "--reset" in again.stderr
    assert _counts(fresh_database) == before


def test_append_continues_after_the_last_event(fresh_database):
    run_shop("simulate", *SMALL, env=fresh_database.env)
    users, products, events, _ = _counts(fresh_database)
    # Number the categories by name, as migration 0013 did for shops of one row per category:
    # the appended users' arrays must follow the stored positions, not the world's.
    with fresh_database.connect() as conn, conn.transaction():
        conn.execute("create temp table renumber as select category_index as old, "
                     "row_number() over (order by category desc)::int as new from truth.categories")
        conn.execute("update truth.user_category_affinity set affinity = "
                     "(select array_agg(affinity[old] order by new) from renumber)")
        conn.execute("update truth.categories set category_index = -new from renumber where category_index = old")
        conn.execute("update truth.categories set category_index = -category_index")
    run_shop("simulate", "--append", "--end", "2025-12-05T00:00", env=fresh_database.env)
    _assert_the_truth_view_gives_the_world_models_affinity(fresh_database, [1, users + 1, _counts(fresh_database)[0]])
    users2, products2, events2, runs2 = _counts(fresh_database)
    assert products2 == products and runs2 == 2
    assert events2 > events and users2 >= users
    with fresh_database.connect() as conn:
        newest = conn.execute(
            "select min(occurred_at) from raw.interactions where occurred_at >= '2025-11-30'"
        ).fetchone()[0]
        dupe_ids = conn.execute(
            "select count(*) from (select user_id from raw.users group by 1 having count(*) > 1) d"
        ).fetchone()[0]
    assert newest is not None and dupe_ids == 0
    # Nothing left to add: a second append up to the same end is a no-op, not an error.
    again = run_shop("simulate", "--append", "--end", "2025-12-05T00:00", env=fresh_database.env)
    assert "Nothing to add" in again.stdout
    assert _counts(fresh_database)[2] == events2


def test_an_append_lands_after_the_previous_loads_watermark(fresh_database):
    """A history ending in the past is loaded at its end: nothing in it arrived later, so every row
    an --append writes arrives after what is already there, where an incremental build looks."""

    def loaded() -> dict:
        with fresh_database.connect() as conn:
            return dict(conn.execute("select event_id, loaded_at from raw.interactions").fetchall())

    run_shop("simulate", *SMALL, env=fresh_database.env)
    before = loaded()
    assert max(before.values()) <= datetime(2025, 11, 30, tzinfo=timezone.utc)
    for end in ("2025-12-02T00:00", "2025-12-04T00:00"):
        run_shop("simulate", "--append", "--end", end, env=fresh_database.env)
        after = loaded()
        new = [at for event_id, at in after.items() if event_id not in before]
        assert new and min(new) >= max(before.values()), (min(new), max(before.values()))
        before = after


def test_reset_replaces_the_shop(fresh_database):
    run_shop("simulate", *SMALL, env=fresh_database.env)
    run_shop("simulate", "--users", "100", "--products", "30", "--days", "5", "--end", "2025-11-30", "--reset",
             env=fresh_database.env)
    users, products, _, runs = _counts(fresh_database)
    assert (users, products, runs) == (100, 30, 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--users", "-5"), "--users"),
        (("--products", "0"), "--products"),
        (("--days", "-1"), "--days"),
        (("--seed", "abc"), "--seed"),
        (("--live", "--rate", "0"), "--rate"),
        (("--live", "--rate", "-3"), "--rate"),
        (("--rate", "10"), "--rate"),
        (("--end", "yesterday-ish"), "--end"),
        (("--reset", "--append"), "--reset"),
        (("--recommendations-api", "http://127.0.0.1:1"), "--recommendations-api"),
        (("--live", "--recommendations-api", "localhost:8000"), "--recommendations-api"),
        (("--no-such-flag",), "No such option"),
        (("--scenario", "bakery"), "--scenario"),
    ],
)
def test_bad_flags_are_clear_errors_and_write_nothing(fresh_database, args, message):
    result = run_shop("simulate", *args, env=fresh_database.env, check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert _counts(fresh_database) == (0, 0, 0, 0)


def test_append_without_a_shop_says_what_to_do(fresh_database):
    result = run_shop("simulate", "--append", env=fresh_database.env, check=False)
    assert result.returncode == 1 and "shop simulate" in result.stderr


def _wait_for_copy(db, timeout: float = 60) -> int:
    """Block until a COPY into raw.interactions has sent rows (seen from another connection)."""
    deadline = time.monotonic() + timeout
    with db.connect(autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "select tuples_processed from pg_stat_progress_copy where relid = 'raw.interactions'::regclass"
            ).fetchone()
            if row and row[0] > 50_000:
                return row[0]
            time.sleep(0.02)
    raise AssertionError("the load never started copying")


@pytest.mark.parametrize("prefill", [False, True], ids=["empty", "with-existing-shop"])
def test_a_killed_load_leaves_the_database_as_it_was(fresh_database, prefill):
    if prefill:
        run_shop("simulate", *SMALL, env=fresh_database.env)
    before = _counts(fresh_database)
    digest = _content_digest(fresh_database)
    args = ["--users", "20000", "--products", "500", "--days", "120", "--end", "2025-11-30"]
    if prefill:
        args.append("--reset")
    process = subprocess.Popen(
        [sys.executable, "-m", "shop", "simulate", *args],
        env={**os.environ, **fresh_database.env}, cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait_for_copy(fresh_database) > 0
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    # The server notices the dead client and rolls the transaction back.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with fresh_database.connect(autocommit=True) as conn:
            busy = conn.execute(
                "select count(*) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"
            ).fetchone()[0]
        if busy == 0:
            break
        time.sleep(0.1)
    assert _counts(fresh_database) == before
    assert _content_digest(fresh_database) == digest
    with fresh_database.connect() as conn:
        indexes = {r[0] for r in conn.execute(
            "select indexname from pg_indexes where schemaname = 'raw' and tablename = 'interactions'"
        ).fetchall()}
    assert indexes == {"interactions_loaded_at_idx", "interactions_user_occurred_idx", "interactions_event_day_idx"}


_USER_TRUTH = ("users", "user_category_affinity", "user_brand_affinity", "user_taste")


def _user_truth_rows(db) -> dict[str, list[tuple]]:
    """Every row of the per-user truth tables with its xmin (the transaction that wrote it)."""
    with db.connect() as conn:
        return {table: conn.execute(f"select xmin::text, * from truth.{table} order by 2, 3").fetchall()
                for table in _USER_TRUTH}


def test_live_streams_now_timestamped_events_and_stops_cleanly_on_ctrl_c(fresh_database):
    run_shop("simulate", *SMALL, env=fresh_database.env)
    _, _, events_before, _ = _counts(fresh_database)
    truth_before = _user_truth_rows(fresh_database)
    process = subprocess.Popen(
        [sys.executable, "-m", "shop", "simulate", "--live", "--rate", "300"],
        env={**os.environ, **fresh_database.env}, cwd=REPO_ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        streamed = 0
        while time.monotonic() < deadline and streamed < 200:
            time.sleep(0.5)
            streamed = fresh_database.scalar(
                "select count(*) from raw.interactions where loaded_at > now() - interval '1 minute'"
            )
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "Stopped" in stdout
    assert streamed >= 200, (stdout, stderr)
    with fresh_database.connect() as conn:
        lag = conn.execute(
            """
            select max(abs(extract(epoch from (occurred_at - now())))) from raw.interactions
            where loaded_at > now() - interval '2 minutes' and loaded_at - occurred_at < interval '1 minute'
            """
        ).fetchone()[0]
        run = conn.execute("select mode, events from truth.simulation_runs order by run_id desc limit 1").fetchone()
        total = conn.execute("select count(*) from raw.interactions").fetchone()[0]
    assert lag < 600  # occurred now-ish (the stream ran for seconds)
    assert run[0] == "live" and run[1] == total - events_before
    _assert_live_ticks_wrote_only_new_users_truth(fresh_database, truth_before)


def _assert_live_ticks_wrote_only_new_users_truth(db, truth_before: dict[str, list[tuple]]) -> None:
    """The stream's new users have their truth rows, the world model's own; the rows of the users
    who were there before are the very rows written then (same values, same writing transaction)."""
    from simulator.runner import restore_world

    with db.connect() as conn:
        (parameters,) = conn.execute("select parameters from truth.simulation_runs order by run_id limit 1").fetchone()
        world = restore_world(conn, parameters)
    truth_after = _user_truth_rows(db)
    new_users = np.arange(301, world.n_users + 1)
    assert len(new_users) > 0
    expected = world.user_truth_tables(new_users - 1)
    for table in _USER_TRUTH:
        old = [row for row in truth_after[table] if row[1] <= 300]
        assert old == truth_before[table], table
        new = [row[1:] for row in truth_after[table] if row[1] > 300]
        columns = expected[table]
        want = sorted(zip(*(v.tolist() for v in columns.values())))
        assert sorted(new) == want, table


@pytest.mark.slow
@pytest.mark.skipif(bool(os.environ.get("SHOP_DATABASE_URL")), reason="stops and starts the embedded server")
def test_live_rides_out_a_database_restart_and_loses_no_event(tmp_path):
    """The stream keeps what it generates while the database is down, says so, and writes it when the
    database is back: the events it reports equal the rows it added."""
    import shutil

    from shopcore import db as shop_db
    from shopcore import embedded
    from shopcore.settings import Settings
    from tests.support import private_home

    home = private_home("shop-live-restart-")
    env = {"SHOP_HOME": str(home), "SHOP_DATABASE_URL": ""}
    settings = Settings(home=home, database_url=None)

    def events() -> int:
        with shop_db.connect(shop_db.resolve(settings, start=False)) as conn:
            return conn.execute("select count(*) from raw.interactions").fetchone()[0]

    try:
        run_shop("simulate", *SMALL, env=env)
        before = events()
        log = tmp_path / "live.log"
        with open(log, "w") as out:
            process = subprocess.Popen([sys.executable, "-m", "shop", "simulate", "--live", "--rate", "200"],
                                       env={**os.environ, "COLUMNS": "200", **env}, cwd=REPO_ROOT,
                                       stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            while events() < before + 100 and time.monotonic() < deadline:
                time.sleep(0.3)
            run_shop("db", "stop", env=env)
            deadline = time.monotonic() + 30
            while "unavailable" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.3)
            run_shop("db", "start", env=env)
            deadline = time.monotonic() + 60
            while "is back" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.3)
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
        output = log.read_text()
        assert process.returncode == 0, output
        assert "The database is unavailable" in output and "The database is back" in output, output
        streamed = int(re.search(r"Stopped: streamed ([\d,]+) events", output).group(1).replace(",", ""))
        assert streamed > 100 and events() - before == streamed, output
        with shop_db.connect(shop_db.resolve(settings, start=False)) as conn:
            run = conn.execute("select mode, events from truth.simulation_runs order by run_id desc limit 1").fetchone()
        assert run == ("live", streamed)
    finally:
        embedded.stop(home)
        shutil.rmtree(home, ignore_errors=True)


def test_an_end_in_the_future_is_refused(fresh_database):
    result = run_shop("simulate", "--days", "3", "--end", "2999-01-01", env=fresh_database.env, check=False)
    assert result.returncode == 1 and "in the future" in result.stderr
    assert _counts(fresh_database) == (0, 0, 0, 0)
