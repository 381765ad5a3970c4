"""When people shop: day-of-week shape, calendar peaks, hour-of-day curve, and time helpers.

Time inside the simulator is int64 microseconds since the Unix epoch (UTC): cheap to do
arithmetic on and viewable as ``datetime64[us]`` without a copy. The shop's clock is UTC
(hour-of-day is in UTC).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

import numpy as np

from shopcore.timeunits import US_PER_DAY, US_PER_HOUR, US_PER_SECOND

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# Monday..Sunday. Weekends carry more visits than weekdays; mean is 1.
WEEKDAY_FACTOR = np.array([0.95, 0.92, 0.93, 0.95, 0.98, 1.11, 1.16])
WEEKDAY_FACTOR = WEEKDAY_FACTOR / WEEKDAY_FACTOR.mean()

# Hour 0..23 (UTC): a night trough, a lunchtime shoulder and an evening peak; mean is 1.
HOUR_FACTOR = np.array([
    0.40, 0.24, 0.16, 0.12, 0.12, 0.18, 0.32, 0.55, 0.75, 0.88, 0.95, 1.02,
    1.12, 1.08, 1.00, 0.98, 1.02, 1.12, 1.30, 1.58, 1.80, 1.82, 1.50, 0.90,
])
HOUR_FACTOR = HOUR_FACTOR / HOUR_FACTOR.mean()


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch of a timezone-aware datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {moment!r}")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def from_us(us: int) -> datetime:
    """Timezone-aware UTC datetime of microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=int(us))


def _black_friday(year: int) -> date:
    # US Thanksgiving is the fourth Thursday of November; Black Friday is the day after.
    first = date(year, 11, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + timedelta(days=22)


@lru_cache(maxsize=4096)
def day_factor(day_number: int) -> float:
    """Visit multiplier of one UTC calendar day (days since the epoch): weekday x calendar.

    Calendar: a Black-Week ramp with a sharp Black Friday and Cyber Monday peak, a pre-Christmas
    bump in mid-December, a Christmas dip and a quiet first half of January.
    """
    day = date(1970, 1, 1) + timedelta(days=day_number)
    factor = float(WEEKDAY_FACTOR[day.weekday()])
    bf = _black_friday(day.year)
    d = (day - bf).days
    cm = d - 3  # Cyber Monday
    xmas = (day - date(day.year, 12, 15)).days
    calendar = 1.0
    calendar += 1.5 * np.exp(-0.5 * (d / 1.1) ** 2) + 1.0 * np.exp(-0.5 * (cm / 0.8) ** 2)
    if -7 <= d <= 4:
        calendar += 0.35  # "Black Week" deals
    calendar += 0.35 * np.exp(-0.5 * (xmas / 5.0) ** 2)
    if day.month == 12 and 24 <= day.day <= 26:
        calendar *= 0.7
    if day.month == 1 and day.day <= 15:
        calendar *= 0.85
    return factor * float(calendar)


def window_segments(start_us: int, end_us: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split ``[start, end)`` at hour boundaries.

    Returns (segment starts, segment lengths in microseconds, visit intensity per segment in
    "average days" units: the expected sessions of a user with rate 1/day in that segment).
    """
    if end_us <= start_us:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0)
    first_hour = start_us // US_PER_HOUR
    last_hour = (end_us - 1) // US_PER_HOUR
    hours = np.arange(first_hour, last_hour + 1, dtype=np.int64)
    seg_start = np.maximum(hours * US_PER_HOUR, start_us)
    seg_end = np.minimum((hours + 1) * US_PER_HOUR, end_us)
    seg_len = seg_end - seg_start
    days = hours // 24
    day_mult = np.array([day_factor(int(d)) for d in days])
    intensity = HOUR_FACTOR[hours % 24] * day_mult * (seg_len / US_PER_DAY)
    return seg_start, seg_len, intensity
