"""The sidebar filters (date range and category) that the analysis pages share.

Streamlit forgets a widget's value on a run that does not draw it (the Data health page, say); the
entrypoint calls `keep_state()` on every run so that a choice survives a visit to another page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import streamlit as st

from app import periods
from app.periods import Period

PRESET_KEY = "filter_preset"
CUSTOM_KEY = "filter_custom_range"
CATEGORY_KEY = "filter_category"
PERSISTENT_KEYS = (PRESET_KEY, CUSTOM_KEY, CATEGORY_KEY)

ALL_CATEGORIES = "All categories"


@dataclass(frozen=True)
class Filters:
    preset: str
    period: Period
    category: str | None  # None: every category

    def describe(self) -> str:
        scope = "all categories" if self.category is None else self.category
        return f"{self.period.label()} · {scope}"


def keep_state() -> None:
    """Re-assign the filter widgets' values so Streamlit keeps them on runs that do not draw them."""
    for key in PERSISTENT_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


@dataclass(frozen=True)
class Selectable:
    """The days the custom range may pick: every day with data, and every day up to today."""

    first: date
    last: date

    @classmethod
    def of(cls, first_day: date | None, last_day: date | None, today: date) -> Selectable:
        """From the warehouse's first and last day with activity (None for both when it holds none)."""
        return cls(min(first_day or today, today), max(last_day or today, today))

    def default_range(self, last_day: date | None) -> tuple[date, date]:
        """The two weeks up to the newest data (today when there is none), within the bounds."""
        end = min(last_day or self.last, self.last)
        return max(end - timedelta(days=13), self.first), end

    def clamp(self, picked: tuple[date, ...]) -> tuple[date, ...]:
        return tuple(min(max(day, self.first), self.last) for day in picked)


def sidebar(categories: list[str] | None = None, span: tuple[date | None, date | None] = (None, None),
            today: date | None = None) -> Filters:
    """Draw the filters in the sidebar and return the current choice.

    `categories=None` draws no category filter (for pages where a category means nothing). `span` is
    the first and last day with data (queries.activity_span): a custom range may pick any of them,
    however long ago the history starts (Streamlit's own bound is ten years).
    """
    today = today or periods.today_utc()
    st.session_state.setdefault(PRESET_KEY, periods.DEFAULT_PRESET)
    with st.sidebar:
        st.subheader("Filters")
        preset = st.segmented_control("Date range", list(periods.PRESETS), key=PRESET_KEY)
        preset = preset or periods.DEFAULT_PRESET  # clicking the selected option clears it
        custom = None
        if preset == "Custom":
            bounds = Selectable.of(*span, today)
            st.session_state.setdefault(CUSTOM_KEY, bounds.default_range(span[1]))
            # A range kept from another database (or from before a backfill) may lie outside the bounds.
            kept = tuple(st.session_state[CUSTOM_KEY] or ())
            if bounds.clamp(kept) != kept:
                st.session_state[CUSTOM_KEY] = bounds.clamp(kept)
            picked = st.date_input("From – to (UTC days)", key=CUSTOM_KEY, min_value=bounds.first,
                                   max_value=bounds.last)
            # While the second date is being picked the widget holds one date: use it as both ends.
            chosen = tuple(picked) if isinstance(picked, (tuple, list)) else (picked,)
            custom = (chosen[0], chosen[-1]) if chosen else (today, today)
        period = periods.from_preset(preset, today, custom)
        category = None
        if categories is not None:
            options = [ALL_CATEGORIES, *categories]
            if st.session_state.get(CATEGORY_KEY) not in options:
                st.session_state[CATEGORY_KEY] = ALL_CATEGORIES
            picked_category = st.selectbox("Category", options, key=CATEGORY_KEY)
            category = None if picked_category == ALL_CATEGORIES else picked_category
        st.caption(f"{period.label()} (UTC), compared with the {period.days} day(s) before.")
    return Filters(preset, period, category)
