"""Where dbt writes under SHOP_HOME, and the one reader of its run_results.json and sources.json.

The warehouse build (shop/dbt_runner.py), the refresh loop and the dashboard's Data health page all
read a build's outcome through `read_run_results`, and judge a node with the statuses below.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# The dbt project sits at the repository root, beside the packages (dbt_project.yml).
PROJECT_DIR = Path(__file__).resolve().parent.parent

FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
WARNING_STATUSES = frozenset({"warn"})


def dbt_home(home: Path | None = None) -> Path:
    """SHOP_HOME/dbt: profiles.yml, target/ and logs/ of every run."""
    if home is None:
        from shopcore.settings import get_settings

        home = get_settings().home_dir
    return Path(home).expanduser().resolve() / "dbt"


def keep_file(path: Path, data: bytes) -> None:
    """Write a file kept between commands under SHOP_HOME/dbt atomically: a command reading it while
    another writes sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    os.replace(partial, path)


def target_dir(home: Path | None = None) -> Path:
    return dbt_home(home) / "target"


def target_results_path(home: Path | None = None) -> Path:
    """SHOP_HOME/dbt/target/run_results.json: the last dbt invocation's results, whatever it was."""
    return target_dir(home) / "run_results.json"


def last_build_results_path(home: Path | None = None) -> Path:
    """SHOP_HOME/dbt/last_build/run_results.json: the run results of the newest `dbt build`.

    target/run_results.json belongs to whatever dbt command ran last (`dbt docs generate` rewrites
    it); this copy changes only when a build finishes, so the dashboard's data health page shows
    the last build whatever ran since. Absent until the first build.
    """
    return dbt_home(home) / "last_build" / "run_results.json"


def last_freshness_path(home: Path | None = None) -> Path:
    """SHOP_HOME/dbt/last_freshness/sources.json: the newest `dbt source freshness` result.

    Kept beside the last build's results for the same reason; absent until `shop build --freshness`
    (or the live demo's refresh loop) has run once.
    """
    return dbt_home(home) / "last_freshness" / "sources.json"


def unit_tests_passed_path(home: Path | None = None) -> Path:
    """SHOP_HOME/dbt/unit_tests.fingerprint: the fingerprint of the code the dbt unit tests last passed on.

    Written by `shop build` (shop/unit_test_gate.py) after a build that ran them and passed, so its
    modification time is when they last passed; an incremental build skips them while it matches.
    """
    return dbt_home(home) / "unit_tests.fingerprint"


@dataclass(frozen=True)
class NodeRun:
    """One node of a run_results.json: a model, a data test, a unit test, a seed, ..."""

    unique_id: str
    resource_type: str
    name: str
    status: str
    execution_time: float
    completed_at: datetime | None
    failures: int | None
    message: str | None

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES


@dataclass(frozen=True)
class RunResults:
    path: Path
    command: str
    generated_at: datetime | None
    elapsed_s: float
    nodes: tuple[NodeRun, ...]
    excluded_resource_types: frozenset[str] = frozenset()  # `--exclude-resource-type`: not run at all

    def count(self, resource_type: str, statuses: set[str] | frozenset[str] | None = None) -> int:
        return sum(
            1
            for node in self.nodes
            if node.resource_type == resource_type and (statuses is None or node.status in statuses)
        )

    @property
    def failed(self) -> int:
        return sum(1 for node in self.nodes if node.failed)


def _timestamp(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _completed(result: dict) -> datetime | None:
    finished = [_timestamp(step.get("completed_at")) for step in result.get("timing") or []]
    finished = [moment for moment in finished if moment is not None]
    return max(finished) if finished else None


def _node(result: dict) -> NodeRun:
    unique_id = result["unique_id"]
    return NodeRun(
        unique_id=unique_id,
        resource_type=unique_id.split(".", 1)[0],
        name=unique_id.split(".")[2] if unique_id.count(".") >= 2 else unique_id,
        status=str(result.get("status", "")).lower(),
        execution_time=float(result.get("execution_time") or 0.0),
        completed_at=_completed(result),
        failures=result.get("failures"),
        message=result.get("message"),
    )


def _command(args: dict) -> str:
    command = " ".join(part for part in ["dbt", args.get("which", "")] if part)
    if args.get("select"):
        command += " --select " + " ".join(args["select"])
    if args.get("full_refresh"):
        command += " --full-refresh"
    return command


def read_run_results(path: Path) -> RunResults:
    """Parse a run_results.json (OSError when it is missing, ValueError when it is not JSON)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    metadata = data.get("metadata") or {}
    return RunResults(
        path=path,
        command=_command(data.get("args") or {}),
        generated_at=_timestamp(metadata.get("generated_at")),
        elapsed_s=float(data.get("elapsed_time") or 0.0),
        nodes=tuple(_node(result) for result in data.get("results", [])),
        excluded_resource_types=frozenset((data.get("args") or {}).get("exclude_resource_types") or ()),
    )


# dbt's freshness statuses, and the words the Data health page and the API use for them.
FRESHNESS_STATUS_WORDS = {"pass": "fresh", "warn": "warn", "error": "error", "runtime error": "error"}


@dataclass(frozen=True)
class SourceStatus:
    """One source table's freshness: dbt's verdict against its warn/error thresholds."""

    source_table: str  # schema.table as the raw contract names it (raw.interactions)
    status: str  # fresh, warn or error
    max_loaded_at: datetime | None
    snapshotted_at: datetime | None
    age_s: float | None
    warn_after: str | None
    error_after: str | None
    message: str | None


@dataclass(frozen=True)
class SourceFreshness:
    path: Path
    generated_at: datetime | None
    sources: tuple[SourceStatus, ...]

    @property
    def worst(self) -> str:
        """error when any source errs, else warn when any warns, else fresh."""
        statuses = {source.status for source in self.sources}
        return next((word for word in ("error", "warn") if word in statuses), "fresh")


def _threshold(criteria: dict, key: str) -> str | None:
    rule = criteria.get(key) or {}
    if not rule.get("count") or not rule.get("period"):
        return None
    return f"{rule['count']} {rule['period']}{'s' if rule['count'] != 1 else ''}"


def _source(result: dict) -> SourceStatus:
    # unique_id: source.<project>.<source name>.<table>; the raw contract's schema is `raw`.
    table = result["unique_id"].split(".")[-1]
    criteria = result.get("criteria") or {}
    status = str(result.get("status", "")).lower()
    age = result.get("max_loaded_at_time_ago_in_s")
    newest = _timestamp(result.get("max_loaded_at"))
    message = result.get("error") or result.get("message")
    if newest is not None and newest.year < 1000:  # dbt's stand-in for max() of an empty table
        newest, age, message = None, None, message or "the table has no rows"
    return SourceStatus(
        source_table=f"raw.{table}",
        status=FRESHNESS_STATUS_WORDS.get(status, status),
        max_loaded_at=newest,
        snapshotted_at=_timestamp(result.get("snapshotted_at")),
        age_s=float(age) if age is not None else None,
        warn_after=_threshold(criteria, "warn_after"),
        error_after=_threshold(criteria, "error_after"),
        message=message,
    )


def read_sources(path: Path) -> SourceFreshness:
    """Parse a sources.json (OSError when it is missing, ValueError when it is not JSON)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    metadata = data.get("metadata") or {}
    return SourceFreshness(
        path=path,
        generated_at=_timestamp(metadata.get("generated_at")),
        sources=tuple(sorted((_source(result) for result in data.get("results", [])), key=lambda s: s.source_table)),
    )
