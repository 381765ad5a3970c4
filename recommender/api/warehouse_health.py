"""The warehouse's freshness as the API's readiness reports it: the newest `dbt source freshness`.

`shop build --freshness` (and the live demo's refresh loop) keeps dbt's sources.json under
SHOP_HOME; a source past its warn or error threshold makes /health/ready "degraded": the API still
serves (its model and catalogue are loaded), but what it learns from is getting old.
"""

from __future__ import annotations

from pathlib import Path

from shopcore import dbt_artifacts


def warehouse_check(home: Path) -> tuple[bool, str]:
    """(stale, detail) from the kept sources.json; never stale when no check has run yet."""
    path = dbt_artifacts.last_freshness_path(home)
    try:
        freshness = dbt_artifacts.read_sources(path)
    except FileNotFoundError:
        return False, "freshness not checked yet (`shop build --freshness`)"
    except (OSError, ValueError, KeyError) as exc:
        return False, f"freshness unreadable ({exc})"
    late = [f"{source.source_table} {source.status}" for source in freshness.sources if source.status != "fresh"]
    if not late:
        return False, f"{len(freshness.sources)} sources fresh"
    return True, "stale: " + ", ".join(late)
