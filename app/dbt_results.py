"""The last dbt build's results as the Data health page shows them (a table of nodes).

`shop build` keeps a copy of each finished build's run_results.json at
SHOP_HOME/dbt/last_build/run_results.json, which other dbt commands (`dbt docs generate`, ...) leave
alone; shopcore.dbt_artifacts reads it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from shopcore import dbt_artifacts
from shopcore.dbt_artifacts import FAILED_STATUSES, WARNING_STATUSES
from shopcore.settings import Settings

NODE_COLUMNS = ["resource_type", "name", "status", "execution_time", "completed_at", "failures", "message"]


@dataclass(frozen=True)
class RunSummary:
    path: Path
    command: str
    generated_at: datetime | None
    elapsed_s: float
    nodes: pd.DataFrame  # NODE_COLUMNS

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


def results_path(home: Path | None = None) -> Path:
    """The last build's kept run_results.json (absent until the first `shop build`)."""
    return dbt_artifacts.last_build_results_path(home or Settings().home_dir)


def load(path: Path | None = None) -> RunSummary | None:
    """The summary of the last build, or None when no build has run under this SHOP_HOME yet."""
    path = path or results_path()
    if not path.is_file():
        return None
    run = dbt_artifacts.read_run_results(path)
    rows = [{column: asdict(node)[column] for column in NODE_COLUMNS} for node in run.nodes]
    return RunSummary(
        path=run.path,
        command=run.command,
        generated_at=run.generated_at,
        elapsed_s=run.elapsed_s,
        nodes=pd.DataFrame(rows, columns=NODE_COLUMNS),
    )
