"""The last dbt build's results, read from its run_results.json.

`shop build` keeps a copy of each finished build's run_results.json at
SHOP_HOME/dbt/last_build/run_results.json (`dbt_runner.last_build_results_path`), which other dbt
commands (`dbt docs generate`, ...) leave alone. Until a build has left that copy (a SHOP_HOME
built by an older version), the page falls back to target/run_results.json, which describes the
last dbt invocation that ran nodes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from shop import dbt_runner
from shop.settings import Settings

FAILED_STATUSES = {"error", "fail", "runtime error"}
WARNING_STATUSES = {"warn"}


@dataclass(frozen=True)
class RunSummary:
    path: Path
    command: str
    generated_at: datetime | None
    elapsed_s: float
    nodes: pd.DataFrame  # resource_type, name, status, execution_time, completed_at, failures, message

    def count(self, resource_type: str, statuses: set[str] | None = None) -> int:
        rows = self.nodes[self.nodes["resource_type"] == resource_type]
        return int(len(rows) if statuses is None else rows["status"].isin(statuses).sum())

    @property
    def failed(self) -> pd.DataFrame:
        return self.nodes[self.nodes["status"].isin(FAILED_STATUSES)]

    @property
    def warned(self) -> pd.DataFrame:
        return self.nodes[self.nodes["status"].isin(WARNING_STATUSES)]

    @property
    def success(self) -> bool:
        return self.failed.empty

    def built_at(self, model: str) -> datetime | None:
        """When the last run finished building a model (None: not part of that run)."""
        rows = self.nodes[(self.nodes["resource_type"] == "model") & (self.nodes["name"] == model)]
        return None if rows.empty else rows.iloc[0]["completed_at"]


def target_results_path(home: Path | None = None) -> Path:
    """SHOP_HOME/dbt/target/run_results.json: the last dbt invocation's results, whatever it was."""
    return dbt_runner.target_dir(home or Settings().home_dir) / "run_results.json"


def results_path(home: Path | None = None) -> Path:
    """The last build's results; target/run_results.json when no build has kept its own copy yet."""
    home = home or Settings().home_dir
    last_build = dbt_runner.last_build_results_path(home)
    return last_build if last_build.is_file() else target_results_path(home)


def _timestamp(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _completed(result: dict) -> datetime | None:
    finished = [_timestamp(step.get("completed_at")) for step in result.get("timing") or []]
    finished = [moment for moment in finished if moment is not None]
    return max(finished) if finished else None


def load(path: Path | None = None) -> RunSummary | None:
    """The summary of the last run, or None when dbt has not run under this SHOP_HOME yet."""
    path = path or results_path()
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = [
        {
            "resource_type": result["unique_id"].split(".", 1)[0],
            "name": result["unique_id"].split(".")[2] if result["unique_id"].count(".") >= 2 else result["unique_id"],
            "status": str(result.get("status", "")).lower(),
            "execution_time": float(result.get("execution_time") or 0.0),
            "completed_at": _completed(result),
            "failures": result.get("failures"),
            "message": result.get("message"),
        }
        for result in data.get("results", [])
    ]
    nodes = pd.DataFrame(
        rows, columns=["resource_type", "name", "status", "execution_time", "completed_at", "failures", "message"]
    )
    args = data.get("args") or {}
    command = " ".join(part for part in ["dbt", args.get("which", "")] if part)
    if args.get("select"):
        command += " --select " + " ".join(args["select"])
    if args.get("full_refresh"):
        command += " --full-refresh"
    metadata = data.get("metadata") or {}
    return RunSummary(
        path=path,
        command=command,
        generated_at=_timestamp(metadata.get("generated_at")),
        elapsed_s=float(data.get("elapsed_time") or 0.0),
        nodes=nodes,
    )
