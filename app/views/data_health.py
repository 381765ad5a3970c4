"""Data health: how fresh the raw data and each mart are, and how the last dbt run went.

Each section is one function reading one source (the anomaly checks' monitoring.alerts; dbt's source
freshness result, sources.json, or without it the warehouse's freshness view; the marts; the last dbt
build's run_results.json; the refresh loop's shop_meta.refresh_runs).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import streamlit as st

from app import dbt_results, formatting, queries, ui

STALE_AFTER_S = 24 * 3600  # matches raw.interactions' warn_after in dbt (1 day)


def status_of(age_s: float | None) -> str:
    if age_s is None or pd.isna(age_s):  # a column of ages turns a missing one into NaN
        return "no data"
    return "fresh" if age_s <= STALE_AFTER_S else "stale"


def open_alerts() -> None:
    """The anomaly checks' open alerts: what moved, over which window, and the evidence."""
    st.subheader("Alerts")
    alerts = queries.open_alerts()
    if alerts.empty:
        st.success("No open alerts: event volumes, arrivals, duplicates, late arrivals and the daily KPIs "
                   "are within their usual range.", icon=":material/check_circle:")
        return
    st.warning(f"{len(alerts)} open alert{'s' if len(alerts) != 1 else ''} from the anomaly checks:",
               icon=":material/warning:")
    # a line per alert, not a grid: the evidence is a sentence to read
    lines = [
        f"- **{row.kind} · {row.metric}**, {formatting.timestamp(row.window_start)} – "
        f"{formatting.timestamp(row.window_end)}: {row.evidence}"
        for row in alerts.itertuples()
    ]
    st.markdown("\n".join(lines))
    st.caption("Judged by the warehouse's anomaly checks (`monitoring.alerts`) at every build; an alert stays "
               "open for a week after its window ends.")


def raw_freshness(now: datetime) -> None:
    st.subheader("Raw data")
    try:
        checked = dbt_results.load_freshness()
    except ValueError as exc:  # a file being written right now, or a damaged one
        checked = None
        st.warning(f"Cannot read {dbt_results.freshness_path()}: {exc}. Reload in a moment.", icon=":material/warning:")
    if checked is not None:
        checked_freshness(checked, now)
        return
    st.caption("Thresholds not checked yet: `shop build --freshness` (the live demo runs it at every refresh) "
               "judges each table against its warn and error thresholds. Until then, the newest rows:")
    if not queries.relation_exists(queries.SOURCE_FRESHNESS_MART):
        st.caption(
            f"The warehouse has no marts.{queries.SOURCE_FRESHNESS_MART} view yet, so the newest raw rows "
            "cannot be shown here (the dashboard reads marts only). The marts below show what the last "
            "build loaded."
        )
        return
    frame = queries.source_freshness()
    ages = frame["newest_at"].map(lambda moment: formatting.seconds_since(moment, now))
    shown = frame.assign(
        age=ages.map(formatting.age),
        status=ages.map(status_of),
        newest_at=frame["newest_at"].map(formatting.timestamp),
    )
    ui.table(
        shown[["source_table", "newest_at", "age", "status"]],
        column_config={"source_table": "Raw table", "newest_at": "Newest row", "age": "Age", "status": "Status"},
    )


def checked_freshness(checked: dbt_results.FreshnessSummary, now: datetime) -> None:
    """Each source's status (fresh, warn, error) as `dbt source freshness` judged it."""
    frame = checked.sources
    ages = frame["max_loaded_at"].map(lambda moment: formatting.seconds_since(moment, now))
    shown = frame.assign(
        newest_at=frame["max_loaded_at"].map(formatting.timestamp),
        age=ages.map(formatting.age),
        note=frame["message"].fillna(""),
    )
    ui.table(
        shown[["source_table", "status", "newest_at", "age", "warn_after", "error_after", "note"]],
        column_config={"source_table": "Raw table", "status": "Status", "newest_at": "Newest row", "age": "Age",
                       "warn_after": "Warn after", "error_after": "Error after", "note": "Note"},
    )
    late = frame[frame["status"] != "fresh"]
    if not late.empty:
        st.warning("Past their thresholds: " + ", ".join(f"{table} ({status})" for table, status
                                                        in zip(late["source_table"], late["status"])),
                   icon=":material/schedule:")
    st.caption(f"`dbt source freshness` at {formatting.timestamp(checked.generated_at)} "
               f"({formatting.age(formatting.seconds_since(checked.generated_at, now))} ago) · {checked.path}")


def mart_freshness(now: datetime, last_run: dbt_results.RunSummary | None) -> None:
    st.subheader("Marts")
    frame = queries.mart_freshness()
    missing = sorted(set(queries.MART_FRESHNESS_COLUMNS) - set(frame["mart"]))
    if frame.empty:
        st.warning("No mart exists yet: build the warehouse with `shop build`.", icon=":material/construction:")
        return
    ages = frame["newest"].map(lambda moment: formatting.seconds_since(moment, now))
    shown = frame.assign(
        newest=frame["newest"].map(formatting.timestamp),
        age=ages.map(formatting.age),
        built=frame["mart"].map(
            lambda name: formatting.timestamp(last_run.built_at(name)) if last_run else formatting.MISSING
        ),
        status=ages.map(status_of),
    )
    ui.table(
        shown[["mart", "rows", "newest", "age", "built", "status"]],
        column_config={
            "mart": "Mart",
            "rows": ui.count_column("Rows"),
            "newest": "Newest data",
            "age": "Age",
            "built": "Built by the last run",
            "status": "Status",
        },
    )
    if missing:
        st.warning(f"Missing marts: {', '.join(missing)}. Run `shop build`.", icon=":material/construction:")


def refresh_loop(now: datetime) -> None:
    st.subheader("Refresh loop")
    runs = queries.refresh_runs()
    if runs.empty:
        ui.empty("No refresh loop has run on this database: `shop demo` runs an incremental build every 30 s.")
        return
    builds = runs[runs["kind"] == "build"]
    ok = builds[builds["succeeded"]]
    cards = st.columns(3)
    last_ok = ok["finished_at"].max() if not ok.empty else None
    cards[0].metric("Last successful refresh",
                    formatting.age(formatting.seconds_since(last_ok, now)) + " ago" if last_ok is not None else "never",
                    border=True)
    cards[1].metric("Refreshes that passed (recent)", f"{len(ok)} / {len(builds)}", border=True)
    cards[2].metric("Median refresh time", f"{ok['seconds'].median():.1f} s" if not ok.empty else formatting.MISSING,
                    border=True)
    if not builds.empty and not bool(builds.iloc[0]["succeeded"]):
        st.error(f"The newest refresh failed: {builds.iloc[0]['message']}", icon=":material/error:")
    shown = runs.assign(
        started_at=runs["started_at"].map(formatting.timestamp),
        outcome=runs["succeeded"].map({True: "passed", False: "failed"}),
    )
    ui.table(
        shown[["started_at", "kind", "attempt", "outcome", "seconds", "models", "data_tests", "failures", "message"]],
        column_config={
            "started_at": "Started", "kind": "Job", "attempt": "Attempt", "outcome": "Outcome",
            "seconds": st.column_config.NumberColumn("Seconds", format="%.1f"),
            "models": "Models", "data_tests": "Tests passed", "failures": "Failed", "message": "Message",
        },
    )


def skipped_unit_tests(last_passed: datetime | None, now: datetime) -> str:
    """Why a build ran no unit test: they judge the code, which has not changed since they passed."""
    when = ("" if last_passed is None else
            f", {formatting.timestamp(last_passed)} ({formatting.age(formatting.seconds_since(last_passed, now))} ago)")
    return ("Unit tests skipped by this build: the project's code (and dbt and the database) has not changed "
            f"since they last passed{when}. `shop build --full-refresh` runs them again.")


def last_dbt_run(last_run: dbt_results.RunSummary | None, now: datetime) -> None:
    st.subheader("Last dbt build")
    if last_run is None:
        ui.empty(f"No dbt build has run under this SHOP_HOME yet ({dbt_results.results_path()}): run `shop build`.")
        return
    cards = st.columns(5)
    cards[0].metric("Outcome", "passed" if last_run.success else "failed", border=True)
    cards[1].metric("Models built", formatting.count(last_run.count("model", {"success"})), border=True)
    cards[2].metric("Data tests passed", f"{last_run.count('test', {'pass'})} / {last_run.count('test')}", border=True)
    unit_tests = ("skipped" if last_run.unit_tests_skipped
                  else f"{last_run.count('unit_test', {'pass'})} / {last_run.count('unit_test')}")
    cards[3].metric("Unit tests passed", unit_tests, border=True)
    cards[4].metric("Warnings", formatting.count(len(last_run.warned)), border=True)
    st.caption(
        f"`{last_run.command}` finished {formatting.timestamp(last_run.generated_at)} "
        f"in {last_run.elapsed_s:.1f} s · {last_run.path}"
    )
    if last_run.unit_tests_skipped:
        st.caption(skipped_unit_tests(dbt_results.unit_tests_last_passed(), now))
    problems = pd.concat([last_run.failed, last_run.warned])
    if not problems.empty:
        # a warning (an open alert, a stale source) is reported, not a failure of the build
        report = st.error if len(last_run.failed) else st.warning
        report(f"{len(last_run.failed)} failed, {len(last_run.warned)} warned:",
               icon=":material/error:" if len(last_run.failed) else ":material/warning:")
        ui.table(problems[["resource_type", "name", "status", "failures", "message"]])
    with st.expander("Every node of the run"):
        ui.table(
            last_run.nodes[["resource_type", "name", "status", "execution_time", "failures"]],
            column_config={"execution_time": st.column_config.NumberColumn("Seconds", format="%.2f")},
        )


st.title("Data health")
now = datetime.now(timezone.utc)
try:
    last_run = dbt_results.load()
except ValueError as exc:  # a file dbt is writing right now, or a damaged one
    last_run = None
    st.warning(f"Cannot read {dbt_results.results_path()}: {exc}. Reload in a moment.", icon=":material/warning:")
with ui.guarded():
    open_alerts()
    raw_freshness(now)
    mart_freshness(now, last_run)
    refresh_loop(now)
last_dbt_run(last_run, now)
