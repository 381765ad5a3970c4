"""Versioned SQL migrations (shopcore/migrations/NNNN_name.sql), each applied once and recorded.

Re-running never breaks an existing database: applied versions are skipped, and an advisory lock
keeps two processes from applying the same migration at once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from shopcore.errors import ShopError

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 727_001  # any constant: serialises migrators on one database


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("shopcore.migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(match.group(1), match.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def apply_migrations(conn: psycopg.Connection) -> list[Migration]:
    """Apply every migration not yet recorded, each in its own transaction; returns those applied."""
    applied_now: list[Migration] = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute("create schema if not exists shop_meta")
        conn.execute(
            """
            create table if not exists shop_meta.schema_migrations (
                version    text primary key,
                name       text not null,
                checksum   text not null,
                applied_at timestamptz not null default now()
            )
            """
        )
        recorded = dict(conn.execute("select version, checksum from shop_meta.schema_migrations").fetchall())
        for migration in available_migrations():
            if migration.version in recorded:
                if recorded[migration.version] != migration.checksum:
                    raise ShopError(
                        f"Migration {migration.version}_{migration.name}.sql was changed after it was "
                        "applied to this database. Never edit an applied migration: add a new one."
                    )
                continue
            with conn.transaction():
                conn.execute(migration.sql)
                conn.execute(
                    "insert into shop_meta.schema_migrations (version, name, checksum) values (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            applied_now.append(migration)
    return applied_now
