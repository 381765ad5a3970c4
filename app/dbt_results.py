"""The last dbt build's results and source freshness check as the Data health page shows them.

`shop build` keeps a copy of each finished build's run_results.json at
SHOP_HOME/dbt/last_build/run_results.json, which other dbt commands (`dbt docs generate`, ...) leave
alone; shopcore.dbt_artifacts reads it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
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
    # The build ran no unit test because shop build's gate found the project's code unchanged since
    # they last passed (they judge the code, not the data).
    unit_tests_skipped: bool = False

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
        unit_tests_skipped="unit_test" in run.excluded_resource_types,
    )


def unit_tests_last_passed(home: Path | None = None) -> datetime | None:
    """When the dbt unit tests last passed under this SHOP_HOME (None: never, or not recorded)."""
    path = dbt_artifacts.unit_tests_passed_path(home or Settings().home_dir)
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    except OSError:
        return None


SOURCE_COLUMNS = ["source_table", "status", "max_loaded_at", "warn_after", "error_after", "message"]


@dataclass(frozen=True)
class FreshnessSummary:
    path: Path
    generated_at: datetime | None
    sources: pd.DataFrame  # SOURCE_COLUMNS, one row per source table


def freshness_path(home: Path | None = None) -> Path:
    """The newest `dbt source freshness` result (absent until `shop build --freshness`)."""
    return dbt_artifacts.last_freshness_path(home or Settings().home_dir)


def load_freshness(path: Path | None = None) -> FreshnessSummary | None:
    """dbt's verdict on each source's freshness, or None when no check has run under this SHOP_HOME."""
    path = path or freshness_path()
    if not path.is_file():
        return None
    kept = dbt_artifacts.read_sources(path)
    rows = [{column: asdict(source)[column] for column in SOURCE_COLUMNS} for source in kept.sources]
    return FreshnessSummary(kept.path, kept.generated_at, pd.DataFrame(rows, columns=SOURCE_COLUMNS))
