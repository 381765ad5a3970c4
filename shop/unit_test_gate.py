"""Run the dbt unit tests when what they check can have changed, not on every refresh build.

A dbt unit test renders one model's SQL over fixed input rows and compares the output with fixed
expected rows: its verdict depends on the project's code, dbt's version and the database engine,
never on the warehouse's data. The refresh loop builds every half minute with the same code, and
re-running the same unit tests each time was a large share of an incremental build's fixed cost (they
are the most expensive nodes for dbt's own Python per node). So a whole-project incremental build
runs them when the fingerprint of those inputs differs from the one recorded after the last build
that ran them and passed; `--full-refresh` and selected builds always run them, as plain `dbt build` does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from shopcore.dbt_artifacts import PROJECT_DIR, unit_tests_passed_path

# The files whose content decides what a unit test renders: the project file and everything under
# the project's folder (models, macros, tests, snapshots, their YAML).
_PROJECT_FILES = ("dbt_project.yml", "profiles.example.yml")
_PROJECT_TREE = "dbt_project"
# Which database the verdict was reached on: another server or database may be another engine version.
_DATABASE_KEYS = ("PGHOST", "PGPORT", "PGDATABASE", "SHOP_DBT_TARGET")


def fingerprint(env: Mapping[str, str]) -> str:
    """A digest of the project's code, dbt's version and the target database."""
    from dbt.version import __version__ as dbt_version

    digest = hashlib.sha256(f"dbt {dbt_version}\n".encode())
    for key in _DATABASE_KEYS:
        digest.update(f"{key}={env.get(key, '')}\n".encode())
    files = [PROJECT_DIR / name for name in _PROJECT_FILES]
    files += sorted(path for path in (PROJECT_DIR / _PROJECT_TREE).rglob("*") if path.is_file())
    for path in files:
        digest.update(f"{path.relative_to(PROJECT_DIR)}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _stamp(home: Path | None) -> Path:
    return unit_tests_passed_path(home)


def needed(current: str, home: Path | None) -> bool:
    """True unless the last passing run of the unit tests under this home had this fingerprint."""
    stamp = _stamp(home)
    return not (stamp.is_file() and stamp.read_text(encoding="utf-8") == current)


def record(current: str, home: Path | None) -> None:
    """The unit tests passed with this fingerprint (call only after a successful build that ran them)."""
    stamp = _stamp(home)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(current, encoding="utf-8")
