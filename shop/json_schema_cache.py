"""Keep the JSON schemas dbt validates its configuration with between `shop` commands.

Every dbt command validates dbt_project.yml, the project's flags, packages and the profile's
credentials against the JSON schema of dbt's class for each (`dbtClassMixin.validate`). dbt derives
each schema from the class with mashumaro on first use in a process (a few tenths of a CPU second:
mashumaro makes a dataclass per field default to serialise it), and keeps it in memory only. A
schema is a function of the class's definition, so while dbt runs, `kept` serves the schemas from
SHOP_HOME/dbt/json_schemas.json: keyed by the class's module, name and the size and modification time
of the module files of the class and its ancestors, under a header of the versions of dbt-core,
dbt-common, dbt-adapters, dbt-postgres, mashumaro and Python (another version: the file starts
empty). A schema that JSON cannot carry exactly (a tuple, a key that is not a string) is never kept.
What dbt validates, and what it accepts or rejects, is unchanged.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shopcore.dbt_artifacts import dbt_home, keep_file

log = logging.getLogger(__name__)
_DISTRIBUTIONS = ("dbt-core", "dbt-common", "dbt-adapters", "dbt-postgres", "mashumaro")


def cache_path(home: Path | None) -> Path:
    return dbt_home(home) / "json_schemas.json"


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in _DISTRIBUTIONS:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} -")
    return "|".join([*found, sys.version])


def class_key(cls: type) -> str | None:
    """The class's module and name, and each of its ancestors' module files (size, modification time)."""
    stamps = []
    for ancestor in cls.__mro__:
        if ancestor.__module__ == "builtins":
            continue
        filename = getattr(sys.modules.get(ancestor.__module__), "__file__", None)
        if not filename:
            return None  # a class made at run time: nothing says it is the same next time
        try:
            stat = os.stat(filename)
        except OSError:
            return None
        stamps.append(f"{filename}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join([f"{cls.__module__}.{cls.__qualname__}", *dict.fromkeys(stamps)])


def _read(path: Path, versions: str) -> dict[str, Any]:
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(stored, dict) or stored.get("versions") != versions or not isinstance(stored.get("schemas"), dict):
        return {}
    return stored["schemas"]


def _write(path: Path, versions: str, schemas: dict[str, Any]) -> None:
    keep_file(path, json.dumps({"versions": versions, "schemas": schemas}).encode("utf-8"))


def _carried_exactly(schema: Any) -> bool:
    try:
        return json.loads(json.dumps(schema)) == schema
    except (TypeError, ValueError):
        return False


@contextmanager
def kept(home: Path | None) -> Iterator[None]:
    """While inside, dbt's classes take their JSON schema from the file under `home` when it holds one
    for the same class definition; on leaving, the schemas computed inside are added (atomically)."""
    try:
        from dbt_common.dataclass_schema import dbtClassMixin
    except ImportError:
        yield
        return
    original = dbtClassMixin.__dict__.get("json_schema")
    if not isinstance(original, classmethod):
        log.debug("dbt's json_schema is not the classmethod this was written for: dbt computes each schema")
        yield
        return
    versions = _versions()
    path = cache_path(home)
    stored = _read(path, versions)
    added: dict[str, Any] = {}
    in_process: dict[type, Any] = {}

    def json_schema(cls: type) -> Any:
        schema = in_process.get(cls)
        if schema is not None:
            return schema
        key = class_key(cls)
        schema = stored.get(key) if key is not None else None
        if not isinstance(schema, dict):  # none kept, or a damaged entry: dbt computes it
            schema = None
        if schema is None:
            schema = original.__func__(cls)
            if key is not None and _carried_exactly(schema):
                added[key] = schema
        in_process[cls] = schema
        return schema

    dbtClassMixin.json_schema = classmethod(json_schema)  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        dbtClassMixin.json_schema = original  # type: ignore[method-assign]
        if added:
            try:
                _write(path, versions, {**stored, **added})
            except OSError as error:  # a cache that cannot be written costs time, never the build
                log.debug("could not keep dbt's JSON schemas at %s: %s", path, error)
