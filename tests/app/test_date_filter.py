"""The sidebar's custom date range follows the data: every day of a long history, or of one week, can be
picked (Streamlit's own bound is ten years back), and a kept range outside the data is brought inside.

The filter runs in a one-function Streamlit script (no database): its bounds come from `span`, which
the pages read from the warehouse (queries.activity_span)."""

from __future__ import annotations

from datetime import date, timedelta

from streamlit.testing.v1 import AppTest

from app import filters

TODAY = date(2026, 12, 6)


def _filter_script() -> None:
    from datetime import date

    import streamlit as st

    from app import filters

    choice = filters.sidebar(span=st.session_state["test_span"], today=date(2026, 12, 6))
    st.markdown(f"period {choice.period.start.isoformat()} {choice.period.end.isoformat()}")


def custom_range(span: tuple[date | None, date | None]) -> AppTest:
    app = AppTest.from_function(_filter_script, default_timeout=30)
    app.session_state["test_span"] = span
    app.run()
    app.button_group(key=filters.PRESET_KEY).set_value("Custom").run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def shown_period(app: AppTest) -> tuple[date, date]:
    _, start, end = app.markdown[-1].value.split()
    return date.fromisoformat(start), date.fromisoformat(end)


def test_a_history_of_fourteen_years_is_selectable_to_its_first_day():
    first = date(2012, 1, 1)
    app = custom_range((first, TODAY))
    picker = app.date_input(key=filters.CUSTOM_KEY)
    assert (picker.min, picker.max) == (first, TODAY)
    assert shown_period(app) == (TODAY - timedelta(days=13), TODAY)  # the last two weeks by default
    picker.set_value((first, date(2012, 1, 31))).run()
    assert not app.exception
    assert shown_period(app) == (first, date(2012, 1, 31))


def test_a_one_week_shop_that_ended_years_ago_opens_on_its_own_days():
    first, last = date(2019, 5, 6), date(2019, 5, 12)
    app = custom_range((first, last))
    picker = app.date_input(key=filters.CUSTOM_KEY)
    assert (picker.min, picker.max) == (first, TODAY)
    assert shown_period(app) == (first, last)  # not two weeks ending today, when it holds nothing
    picker.set_value((last, last)).run()
    assert shown_period(app) == (last, last)


def test_a_range_outside_the_data_is_brought_inside_it():
    """A range kept in the session from another database, or a pick before the data, is not used as is."""
    first = TODAY - timedelta(days=6)
    app = AppTest.from_function(_filter_script, default_timeout=30)
    app.session_state["test_span"] = (first, TODAY)
    app.session_state[filters.PRESET_KEY] = "Custom"
    app.session_state[filters.CUSTOM_KEY] = (date(2001, 1, 1), date(2001, 1, 31))
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    assert shown_period(app) == (first, first)
    app.date_input(key=filters.CUSTOM_KEY).set_value((date(2001, 1, 1), TODAY)).run()
    assert not app.exception
    assert shown_period(app)[0] == first


def test_an_empty_warehouse_offers_today():
    app = custom_range((None, None))
    picker = app.date_input(key=filters.CUSTOM_KEY)
    assert (picker.min, picker.max) == (TODAY, TODAY)
    assert shown_period(app) == (TODAY, TODAY)
