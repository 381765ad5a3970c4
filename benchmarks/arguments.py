"""Command-line argument types shared by the benchmark scripts."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

# A fixed end: the same shop, and the same event count, on every run (ending "now" moved it).
DEFAULT_END = datetime(2026, 1, 1, tzinfo=timezone.utc)


def history_end(value: str) -> datetime:
    """An ISO date or date-time; without a time zone it is UTC (as `shop simulate --end`)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO date or date-time (e.g. 2026-01-01 or 2026-01-01T08:00+00:00)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
