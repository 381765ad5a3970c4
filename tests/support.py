"""Helpers of the whole suite: run the `shop` command, reach the session's database, make a private SHOP_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import uuid

import psycopg
import yaml
from psycopg import sql

from shopcore import db as shop_db
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

    __test__ = False  # a helper, not a test class, wherever a test module imports it

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


def create_database(server: TestDatabase, prefix: str) -> TestDatabase:
    """An empty, migrated database of its own on the session's server."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server.info.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    info = shop_db.ConnectionInfo(server.info.host, server.info.port, server.info.user, name, server.info.password)
    shop_db.ready(Settings(home=Path(server.env["SHOP_HOME"]), database_url=info.url()))
    return TestDatabase(info, {**server.env, "SHOP_DATABASE_URL": info.url()})


def drop_database(server: TestDatabase, database: TestDatabase) -> None:
    with psycopg.connect(server.info.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database.info.dbname)))


def dbt_var(name: str):
    """A variable of the dbt project (dbt_project.yml), as the warehouse's models read it."""
    return yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"][name]
