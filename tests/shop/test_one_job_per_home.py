"""Builds and trains on one SHOP_HOME run one at a time: the second waits and says for whom."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shopcore import home_lock
from tests.support import REPO_ROOT

pytestmark = pytest.mark.slow


def _shop(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    out = open(log, "w")  # noqa: SIM115 - closed by the child's exit; read back by name
    return subprocess.Popen([sys.executable, "-m", "shop", *args], env={**os.environ, "COLUMNS": "200", **env},
                            cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)


def _wait_for_text(log: Path, text: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"no {text!r} in:\n{log.read_text()}"
        time.sleep(0.1)


# The build is a small selection on a warehouse never built: what is judged is the wait and its message,
# and that a selected build tests only what it wrote and its parents (the test below runs two whole
# builds at once).
@pytest.mark.parametrize("command", [["build", "--select", "stg_shop__products"], ["train", "--no-evaluate"]],
                         ids=["build", "train"])
def test_a_job_waits_for_the_homes_current_job_and_names_it(fresh_database, tmp_path, command):
    home = Path(fresh_database.env["SHOP_HOME"])
    log = tmp_path / "second.log"
    with home_lock.hold(home, "import"):
        process = _shop(command, fresh_database.env, log)
        _wait_for_text(log, "Waiting for import (pid ", process)
        time.sleep(1.0)
        assert process.poll() is None, log.read_text()  # still waiting: it did not run beside the holder
    process.wait(timeout=300)
    output = log.read_text()
    assert "__dbt_backup" not in output and "__dbt_tmp" not in output
    if command[0] == "build":
        # dbt's default would also run the relationships tests of downstream models against it
        assert process.returncode == 0 and "relationships_int_" not in output, output
    else:  # ran after the wait, and got as far as the (empty) warehouse
        assert "user_item_interactions" in output, output


def _wait_for_holder(home: Path, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while (holder := home_lock.holder_of(home)) is None or holder.pid != process.pid:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"pid {process.pid} never held the lock:\n{log.read_text()}"
        time.sleep(0.05)


# Two whole builds, the second started while the first holds the home's lock. The first is paused
# (SIGSTOP) from the moment it holds the lock until the second says it waits: without the pause, a
# build that finishes before the second process gets to the lock (a loaded machine, an empty
# warehouse) would make the test prove nothing about running at once.
def test_two_builds_at_once_both_succeed_one_after_the_other(database, tmp_path):
    home = Path(database.env["SHOP_HOME"])
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    first = _shop(["build"], database.env, logs[0])
    _wait_for_holder(home, first, logs[0])
    os.kill(first.pid, signal.SIGSTOP)
    try:
        second = _shop(["build"], database.env, logs[1])
        _wait_for_text(logs[1], f"Waiting for build (pid {first.pid}", second)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    processes = [first, second]
    for process in processes:
        process.wait(timeout=600)
    outputs = [log.read_text() for log in logs]
    assert [process.returncode for process in processes] == [0, 0], outputs
    assert "Waiting for" not in outputs[0] and "__dbt_backup" not in outputs[1], outputs
