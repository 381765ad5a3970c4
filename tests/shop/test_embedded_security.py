"""Only the server's OS user (and root) can reach the embedded database, for a short or a long SHOP_HOME.

Reproduces the finding "a long SHOP_HOME hands the database to every local user": the socket moved
to a world-writable /tmp/<hash> with a 0777 socket and `trust` authentication, so `nobody` was a
superuser.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from shopcore import db as shop_db
from shopcore import embedded, home_lock
from shopcore.settings import Settings
from tests.shop.support import OTHER_USER, run_as_other_user
from tests.support import run_shop

LONG_NAME = "L" * 90  # pushes SHOP_HOME/.../.s.PGSQL.5432 past the Unix socket path limit


def _start(home: Path) -> embedded.EmbeddedStatus:
    run_shop("db", "start", env={"SHOP_HOME": str(home), "SHOP_DATABASE_URL": ""})
    state = embedded.status(home)
    assert state.running and state.socket_dir is not None
    return state


def _psql(state: embedded.EmbeddedStatus) -> list[str]:
    return [str(embedded.bin_dir() / "psql"), "-h", str(state.socket_dir), "-p", str(state.port),
            "-U", embedded.SUPERUSER, "-d", "postgres", "-Atc", "select current_user"]


@pytest.mark.parametrize("name", ["home", LONG_NAME], ids=["short", "long"])
def test_another_os_user_cannot_connect(make_home, name: str):
    home = make_home(name)
    state = _start(home)
    server = embedded.server_user()

    # The socket's directory is private to the server's OS user, and so is the socket.
    directory = os.lstat(state.socket_dir)
    assert stat.S_ISDIR(directory.st_mode)
    assert stat.S_IMODE(directory.st_mode) == 0o700
    assert directory.st_uid == server.uid
    socket_file = os.lstat(state.socket_dir / f".s.PGSQL.{state.port}")
    assert stat.S_ISSOCK(socket_file.st_mode) and stat.S_IMODE(socket_file.st_mode) & 0o077 == 0
    if name == LONG_NAME:
        assert not state.socket_dir.is_relative_to(home), "a long home's socket must move to a short path"

    # The owner (here root, or the server's user itself) connects; `nobody` is refused at the directory.
    assert run_as_other_user("/bin/true").returncode == 0  # the harness itself works
    as_other = run_as_other_user(*_psql(state))
    assert as_other.returncode != 0, f"{OTHER_USER} connected: {as_other.stdout}"
    assert "Permission denied" in as_other.stderr, as_other.stderr
    as_owner = run_shop("db", "psql", "-Atc", "select current_user",
                        env={"SHOP_HOME": str(home), "SHOP_DATABASE_URL": ""})
    assert as_owner.stdout.strip() == embedded.SUPERUSER


def test_authentication_trusts_no_one_and_tcp_is_rejected(make_home):
    home = make_home()
    _start(home)
    info = shop_db.resolve(Settings(home=home, database_url=None), start=False)
    with shop_db.connect(info) as conn:
        rules = conn.execute("select type, auth_method, error from pg_hba_file_rules").fetchall()
        listen = conn.execute("show listen_addresses").fetchone()[0]
        socket_permissions = conn.execute("show unix_socket_permissions").fetchone()[0]
    assert all(error is None for _, _, error in rules)
    assert {(kind, method) for kind, method, _ in rules} == {("local", "peer"), ("host", "reject")}
    assert listen == ""
    assert socket_permissions == "0700"


def test_a_squatted_tmp_socket_directory_is_not_used(make_home):
    """Someone else creates the long home's /tmp socket directory first: the server must not use it."""
    home = make_home(LONG_NAME)
    first = _start(home)
    squatted = first.socket_dir
    run_shop("db", "stop", env={"SHOP_HOME": str(home), "SHOP_DATABASE_URL": ""})
    assert not squatted.exists(), "stop removes the /tmp socket directory"

    import pwd

    other = pwd.getpwnam(OTHER_USER)
    squatted.mkdir()
    try:
        os.chown(squatted, other.pw_uid, other.pw_gid)
        squatted.chmod(0o777)
        second = _start(home)
        assert second.socket_dir != squatted
        assert stat.S_IMODE(os.lstat(second.socket_dir).st_mode) == 0o700
        assert list(squatted.iterdir()) == []  # nothing of ours landed in the other user's directory
        assert run_as_other_user(*_psql(second)).returncode != 0
    finally:
        squatted.rmdir()


def test_connection_info_describes_the_database_without_paths(make_home):
    home = make_home(LONG_NAME)
    _start(home)
    info = shop_db.resolve(Settings(home=home, database_url=None), start=False)
    described = info.describe()
    assert "shop" in described
    assert str(home) not in described and info.host not in described and "/" not in described
    assert home_lock.holder_of(home, home_lock.DB) is None  # the server does not keep the start lock
