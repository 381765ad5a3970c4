"""Shared fixtures: one real PostgreSQL for the whole session.

By default that is the embedded server under a temporary SHOP_HOME; when SHOP_DATABASE_URL is set,
a fresh database is created on that server for the session and dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from shopcore import db as shop_db
from shopcore import embedded
from shopcore.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_shop(*args: str, env: dict[str, str], check: bool = True, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run the `shop` command line in a subprocess, as a user would."""
    result = subprocess.run(
        [sys.executable, "-m", "shop", *args],
        env={**os.environ, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=kwargs.pop("cwd", REPO_ROOT),
        **kwargs,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"shop {' '.join(args)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


class TestDatabase:
    """The session's database: how to connect, and the environment that points `shop` at it."""

    def __init__(self, info: shop_db.ConnectionInfo, env: dict[str, str]):
        self.info = info
        self.env = env

    def connect(self, **kwargs) -> psycopg.Connection:
        return shop_db.connect(self.info, **kwargs)

    def scalar(self, query: str, params: tuple = ()) -> object:
        with self.connect() as conn:
            return conn.execute(query, params).fetchone()[0]


def private_home(prefix: str = "shop-test-") -> Path:
    """A SHOP_HOME outside pytest's own temp tree: pytest keeps that tree private (0700) and
    prunes old runs, while the embedded server runs as another OS user that must reach it."""
    return Path(tempfile.mkdtemp(prefix=prefix))


@pytest.fixture(scope="session")
def shop_home() -> Iterator[Path]:
    home = private_home()
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def database(shop_home: Path) -> Iterator[TestDatabase]:
    external = os.environ.get("SHOP_DATABASE_URL")
    if external:
        server = shop_db.parse_database_url(external)
        name = f"shop_test_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        info = shop_db.ConnectionInfo(server.host, server.port, server.user, name, server.password)
        env = {"SHOP_HOME": str(shop_home), "SHOP_DATABASE_URL": info.url()}
        shop_db.ready(Settings(home=shop_home, database_url=info.url()))
        yield TestDatabase(info, env)
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))
        return
    settings = Settings(home=shop_home, database_url=None)
    info = shop_db.ready(settings)
    env = {"SHOP_HOME": str(shop_home), "SHOP_DATABASE_URL": ""}
    yield TestDatabase(info, env)
    embedded.stop(shop_home)


@pytest.fixture()
def fresh_database(database: TestDatabase) -> Iterator[TestDatabase]:
    """An empty, migrated database of its own on the session's server, for tests that write."""
    name = f"shop_t_{uuid.uuid4().hex[:10]}"
    admin = database.info
    with psycopg.connect(admin.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    info = shop_db.ConnectionInfo(admin.host, admin.port, admin.user, name, admin.password)
    env = {**database.env, "SHOP_DATABASE_URL": info.url()}
    shop_db.ready(Settings(home=Path(database.env["SHOP_HOME"]), database_url=info.url()))
    yield TestDatabase(info, env)
    with psycopg.connect(admin.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))
