"""Starts and stops on one SHOP_HOME are serialised by the home's `db` lock.

Reproduces "`shop db start & shop db start` on a fresh home hangs, then reports could not stop"
(with the old code: an AssertionError traceback, or a 60 s hang in pg_ctl stop).
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import threading
import uuid

import pytest

from shopcore import embedded, home_lock
from shopcore.errors import ShopError
from tests.shop.support import postmasters_of
from tests.support import REPO_ROOT, run_shop

_HOLD_DB_LOCK = """
import sys
from pathlib import Path
from shopcore import home_lock
with home_lock.hold(Path(sys.argv[1]), "db start", name=home_lock.DB):
    print("held", flush=True)
    sys.stdin.read()
"""


def _shop(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "shop", *args], env={**os.environ, "COLUMNS": "200", **env},
                            cwd=REPO_ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_concurrent_starts_on_a_fresh_home(make_home):
    home = make_home()
    env = {"SHOP_HOME": str(home), "SHOP_DATABASE_URL": ""}
    starts = [_shop("db", "start", env=env) for _ in range(3)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in starts]
    for code, out, err in results:
        assert code == 0, err
        assert "Traceback" not in err

    state = embedded.status(home)
    assert state.running
    assert [p.pid for p in postmasters_of(state.pgdata)] == [state.pid]
    # One server was launched on this data directory, once (no start-stop-start, no second attempt).
    log = (home / "pgdata" / "log").read_text()
    assert log.count("database system is ready to accept connections") == 1
    assert log.count("lock file") == 0
    assert run_shop("db", "psql", "-Atc", "select 1", env=env).stdout.strip() == "1"


def test_a_start_waits_for_the_current_holder_then_starts(make_home):
    home = make_home()
    home.mkdir()
    env = {"SHOP_HOME": str(home), "SHOP_DATABASE_URL": ""}
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_DB_LOCK, str(home)], cwd=REPO_ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "held"
        start = _shop("db", "start", env=env)
        # It says whom it waits for, and has not started a server behind the lock's back.
        assert f"Waiting for db start (pid {holder.pid}" in start.stderr.readline()
        assert not embedded.status(home).running
        holder.stdin.close()
        holder.wait(timeout=60)
        out, err = start.communicate(timeout=300)
        assert start.returncode == 0, err
        assert "Started" in out
    finally:
        if holder.poll() is None:
            holder.kill()
    assert embedded.status(home).running
    assert home_lock.holder_of(home, home_lock.DB) is None


def test_start_and_stop_racing_leave_a_consistent_state(make_home):
    home = make_home()
    env = {"SHOP_HOME": str(home), "SHOP_DATABASE_URL": ""}
    run_shop("db", "start", env=env)
    racers = [_shop("db", "stop", env=env), _shop("db", "start", env=env), _shop("db", "stop", env=env)]
    for number, racer in enumerate(racers):
        out, err = racer.communicate(timeout=300)
        assert "Traceback" not in err
        if number == 1 and racer.returncode != 0:
            # A stop may land between the start and its migrations: a clear error, not a crash.
            assert "Cannot connect to the embedded server" in err
        else:
            assert racer.returncode == 0, err
    state = embedded.status(home)
    assert [p.pid for p in postmasters_of(state.pgdata)] == ([state.pid] if state.running else [])
    run_shop("db", "start", env=env)  # whatever the order was, the home still starts
    assert run_shop("db", "psql", "-Atc", "select 1", env=env).stdout.strip() == "1"


def test_concurrent_checks_that_a_home_is_writable_do_not_trip_over_each_other(make_home):
    """Each start probes the home by writing a file. The probe had one name for everyone: one start
    removed the file another was about to remove, and reported the home as unwritable (seen once in
    test_concurrent_starts_on_a_fresh_home)."""
    home = make_home()
    errors: list[str] = []

    def check() -> None:
        for _ in range(200):
            try:
                embedded._ensure_writable_home(home)
            except ShopError as exc:
                errors.append(str(exc))
                return

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert list(home.iterdir()) == []  # no probe left behind


_ENSURE_USER = """
import sys
from shopcore import embedded
print(embedded.ensure_os_user(sys.argv[1]).pw_uid)
"""


def test_processes_creating_the_server_user_at_once_all_get_the_same_user():
    """As root the server runs as an OS user created on first use. Several processes creating it at
    once (two test workers on a fresh machine) all get it: with unserialised `useradd`s one of them
    failed ("useradd exited 9", the user exists), or was handed a uid that a later `useradd` replaced."""
    if os.geteuid() != 0:
        pytest.skip("creating an OS user needs root")
    name = f"shoptest{uuid.uuid4().hex[:8]}"
    processes = [
        subprocess.Popen([sys.executable, "-c", _ENSURE_USER, name], cwd=REPO_ROOT, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(6)
    ]
    try:
        answers = [(p.wait(timeout=120), *p.communicate()) for p in processes]
        assert [code for code, _, _ in answers] == [0] * len(processes), [err for _, _, err in answers]
        assert {out.strip() for _, out, _ in answers} == {str(pwd.getpwnam(name).pw_uid)}
    finally:
        subprocess.run(["userdel", name], capture_output=True)
