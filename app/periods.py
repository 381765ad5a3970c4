"""Date ranges: the presets of the date filter and the previous period each one is compared with.

Days are UTC days, as in the warehouse (dbt runs with PGTZ=UTC). A period is inclusive at both ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

PRESETS: dict[str, int | None] = {
    "Today": 1,
    "7 days": 7,
    "30 days": 30,
    "90 days": 90,
    "Custom": None,
}
DEFAULT_PRESET = "30 days"


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"a period ends before it starts: {self.start} .. {self.end}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end)

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=offset) for offset in range(self.days)]

    def label(self) -> str:
        if self.days == 1:
            return self.start.strftime("%d %b %Y")
        return f"{self.start:%d %b %Y} – {self.end:%d %b %Y}"


def today_utc(now: datetime | None = None) -> date:
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).date()


def from_preset(preset: str, today: date, custom: tuple[date, date] | None = None) -> Period:
    """The period a preset stands for; "Custom" needs `custom` (start, end), in either order."""
    if preset not in PRESETS:
        raise ValueError(f"unknown date preset {preset!r}; choose one of {', '.join(PRESETS)}")
    days = PRESETS[preset]
    if days is None:
        if custom is None:
            raise ValueError("the Custom preset needs a start and an end date")
        start, end = sorted(custom)
        return Period(start, end)
    return Period(today - timedelta(days=days - 1), today)
