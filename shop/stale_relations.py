"""Tables and views in the warehouse's own schemas that no node of the dbt project builds any more.

dbt replaces the relation of every model it builds but never drops the relation of a model removed
from the project: a warehouse built by an older version keeps it, unused (session 21 removed
`int_activity_aggregated_to_users`; its table stays in `intermediate`). After a successful
`shop build`, `find` lists such relations and `drop` removes them.

What the project owns comes from the manifest of the build itself (`captured_manifest`), never from a
list kept by hand: every node with a relation (a model that is not ephemeral, a seed, a snapshot, a test
that stores its failures), enabled or disabled. The manifest lists every node of the project whatever
`--select` chose, so a partial build judges exactly as a whole one. The schemas looked in are those
the project's enabled nodes build into (staging, intermediate, marts, monitoring, snapshots), never a
source's schema nor one of `PROTECTED_SCHEMAS`, whatever a node's configuration says.

Only on PostgreSQL: on another adapter (the Spark target) the warehouse is not in this database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from shop import mashumaro_stubs
from shopcore.errors import ShopError

# The loaders' (raw), the application's (shop_meta) and the simulator's (truth) schemas, and the
# database's shared default one: never looked in, even if a node were configured to build there.
PROTECTED_SCHEMAS = frozenset({"raw", "shop_meta", "truth", "public", "information_schema"})

# pg_class.relkind of the relations looked for, and the statement that drops each kind. Partitions
# go with their parent; indexes and sequences with their table.
_KINDS = {"v": "view", "m": "materialized view", "f": "foreign table", "r": "table", "p": "table"}
# Dependents first: a view reads tables (and other views, dropped in the same statement).
_DROP_ORDER = ("view", "materialized view", "foreign table", "table")

# A drop waits this long for a lock (a psql session reading an old table) before giving up, so that
# `shop build --drop-stale` never holds up the refresh loop behind it indefinitely.
_LOCK_TIMEOUT = "5s"


@dataclass(frozen=True)
class ProjectRelations:
    """What a parsed dbt project owns in its database: from `from_manifest`."""

    adapter_type: str
    schemas: frozenset[str]  # the schemas its nodes build into, less the protected ones
    owned: frozenset[tuple[str, str]]  # (schema, name) of every node's relation


@dataclass(frozen=True, order=True)
class StaleRelation:
    schema: str
    name: str
    kind: str  # "table", "view", "materialized view" or "foreign table"

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


def _has_relation(node: Any) -> bool:
    resource_type = str(getattr(node, "resource_type", ""))
    config = getattr(node, "config", None)
    materialized = getattr(config, "materialized", None)
    if resource_type in ("model", "seed", "snapshot"):
        return materialized != "ephemeral"
    if resource_type == "test":
        return bool(getattr(config, "store_failures", None)) and getattr(config, "store_failures_as", None) != "ephemeral"
    return False


def from_manifest(manifest: Any) -> ProjectRelations:
    """The relations of a dbt `Manifest` (dbt.contracts.graph.manifest) and the schemas they live in."""
    enabled = [node for node in manifest.nodes.values() if _has_relation(node)]
    disabled = [node for nodes in manifest.disabled.values() for node in nodes if _has_relation(node)]
    sources = {source.schema for source in manifest.sources.values()}
    schemas = {node.schema for node in enabled} - sources - PROTECTED_SCHEMAS
    return ProjectRelations(
        adapter_type=str(manifest.metadata.adapter_type or ""),
        schemas=frozenset(schema for schema in schemas if not schema.startswith("pg_")),
        owned=frozenset((node.schema, node.alias or node.name) for node in [*enabled, *disabled]),
    )


class Captured:
    """The project's relations as the newest manifest dbt built inside `captured_manifest` has them."""

    def __init__(self) -> None:
        self.project: ProjectRelations | None = None


@contextmanager
def captured_manifest() -> Iterator[Captured]:
    """While inside, each manifest dbt loads for a command run in this process (dbt's
    `ManifestLoader.get_full_manifest`: a build, a parse) is read into the yielded `Captured`.

    The build's own manifest, at no cost to it: dbt loads it anyway, and a build writes no
    manifest.json (shop/dbt_runner.py), while one left on disk may be of another version of the project.
    """
    captured = Captured()
    try:
        # dbt's contracts are created as it is imported, here before the build: their stubs shared
        # per kind as in every dbt run (shop/mashumaro_stubs.py), else the import alone costs more.
        with mashumaro_stubs.shared():
            from dbt.parser.manifest import ManifestLoader
    except ImportError:  # dbt is a dependency of `shop`: without it nothing builds either
        yield captured
        return
    original = ManifestLoader.__dict__.get("get_full_manifest")
    if not isinstance(original, classmethod):
        yield captured  # another dbt: no manifest seen, so nothing is judged stale
        return

    def get_full_manifest(cls: type, *args: Any, **kwargs: Any) -> Any:
        manifest = original.__func__(cls, *args, **kwargs)
        captured.project = from_manifest(manifest)
        return manifest

    wrapper = classmethod(get_full_manifest)
    ManifestLoader.get_full_manifest = wrapper  # type: ignore[method-assign,assignment]
    try:
        yield captured
    finally:
        if ManifestLoader.__dict__.get("get_full_manifest") is wrapper:
            ManifestLoader.get_full_manifest = original  # type: ignore[method-assign]


def find(conn: psycopg.Connection, project: ProjectRelations) -> list[StaleRelation]:
    """The relations in the project's schemas that none of its nodes owns: one catalogue query."""
    if project.adapter_type != "postgres" or not project.schemas:
        return []
    rows = conn.execute(
        """
        select namespace.nspname, relation.relname, relation.relkind
        from pg_catalog.pg_class as relation
        inner join pg_catalog.pg_namespace as namespace on relation.relnamespace = namespace.oid
        where
            namespace.nspname = any(%s)
            and relation.relkind = any(%s)
            and not relation.relispartition
        """,
        (sorted(project.schemas), list(_KINDS)),
    ).fetchall()
    return sorted(
        StaleRelation(schema, name, _KINDS[str(kind)])
        for schema, name, kind in rows
        if (schema, name) not in project.owned
    )


class StaleDropFailed(ShopError):
    """The stale relations could not be dropped (none was: one transaction)."""


def drop(conn: psycopg.Connection, stale: list[StaleRelation]) -> None:
    """Drop `stale` in one transaction, kind by kind, dependents first. Without CASCADE: an object
    outside the list that depends on one of them (a view someone made) stops it, and nothing is dropped."""
    if not stale:
        return
    try:
        with conn.transaction():
            conn.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(_LOCK_TIMEOUT)))
            for kind in _DROP_ORDER:
                names = [sql.Identifier(relation.schema, relation.name) for relation in stale if relation.kind == kind]
                if names:
                    conn.execute(sql.SQL("drop {} {}").format(sql.SQL(kind), sql.SQL(", ").join(names)))
    except psycopg.errors.DependentObjectsStillExist as exc:
        detail = (exc.diag.message_detail or "").replace("\n", "; ")
        raise StaleDropFailed(f"nothing was dropped: {exc.diag.message_primary} ({detail}). Drop or keep "
                              "those objects first.") from exc
    except psycopg.errors.LockNotAvailable as exc:
        raise StaleDropFailed(f"nothing was dropped: another session holds a lock on one of them "
                              f"(waited {_LOCK_TIMEOUT}). Try again when it is done.") from exc
