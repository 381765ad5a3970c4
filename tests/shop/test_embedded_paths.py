"""A SHOP_HOME is a plain path: spaces, quotes, commas and shell syntax start a working server and run nothing.

Reproduces "a SHOP_HOME with a space cannot start the database, and one containing $(...) is executed
by /bin/sh" (pg_ctl start builds a shell command line from the data directory and socket paths).
"""

from __future__ import annotations

import pytest

from shopcore import embedded
from tests.support import run_shop


@pytest.mark.parametrize(
    "template",
    [
        "with space",
        "a$(touch${{IFS}}{marker})",
        "b`touch {marker}`",
        "q\"uote's; touch {marker}",
        "comma,dir",
    ],
    ids=["space", "dollar-paren", "backtick", "quotes-semicolon", "comma"],
)
def test_awkward_home_works_and_runs_nothing(make_home, template: str):
    # The marker's directory is writable by anyone: an injected command running as the server's OS
    # user (pgserver when we are root) must be able to create it, or the test would prove nothing.
    marker_dir = make_home("marker")
    marker_dir.mkdir()
    marker_dir.parent.chmod(0o755)
    marker_dir.chmod(0o1777)
    marker = marker_dir / "INJECTED"
    home = make_home(template.format(marker=marker))
    env = {"SHOP_HOME": str(home), "SHOP_DATABASE_URL": ""}

    started = run_shop("db", "start", env=env, check=False)
    assert not marker.exists(), "a shell ran part of SHOP_HOME"
    assert started.returncode == 0, started.stderr
    assert run_shop("db", "psql", "-Atc", "select 40 + 2", env=env).stdout.strip() == "42"
    state = embedded.status(home)
    assert state.running and state.pgdata == home / "pgdata"
    assert (home / "pgdata" / "log").is_file()

    assert "Stopped" in run_shop("db", "stop", env=env).stdout
    assert not embedded.status(home).running
    assert not marker.exists()


def test_a_new_data_directory_gets_the_tuning(make_home):
    home = make_home("tuned home")
    env = {"SHOP_HOME": str(home), "SHOP_DATABASE_URL": ""}
    run_shop("db", "start", env=env)
    names = ", ".join(f"current_setting('{name}')" for name in embedded.TUNING)
    shown = run_shop("db", "psql", "-AtF", "|", "-c", f"select {names}", env=env).stdout.strip().split("|")
    assert shown == list(embedded.TUNING.values())
