"""Every SQL query of the dashboard: marts only, parameterised, cached for a short time.

Each public function names one question a page asks and returns a pandas DataFrame (numeric columns
as floats, dates as `datetime.date`). The three cached executors differ only in how long an answer
may be reused: the live KPIs a few seconds, charts a minute, reference lists five minutes. The
database's connection string is part of every cache key, so two databases never share answers.
Errors are not cached: a database that comes back is used on the next run.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import streamlit as st
from psycopg import errors as pg_errors
from psycopg import sql

from app import kpis
from app.connection import connect, database_key
from app.errors import DataUnavailable, WarehouseNotBuilt
from app.periods import Period
from shopcore import semantic
from shopcore.settings import Settings

LIVE_TTL_S = 5
CHART_TTL_S = 60
REFERENCE_TTL_S = 300

NUMERIC_OID = 1700  # PostgreSQL numeric: psycopg returns Decimal, charts want floats

Params = dict[str, Any]

# Marts the Data health page checks, with the column that says how new each one's data is.
MART_FRESHNESS_COLUMNS: dict[str, str] = {
    "sales_summary": "max_loaded_at",
    "orders": "max_loaded_at",
    "product_daily_performance": "max_loaded_at",
    "user_item_interactions": "max_loaded_at",
    "customers": "last_seen_at",
    "products": "last_activity_date",
    "daily_category_funnel": "activity_date",
    "signup_cohorts": "activity_month",
    "order_lines": "max_loaded_at",
    "interaction_events": "loaded_at",
    "recommendation_variant_daily": "activity_date",
    "price_changes": "max_loaded_at",
}


# --- execution ---------------------------------------------------------------------------------


def _run(conninfo: str, query: str, params: Params) -> pd.DataFrame:
    try:
        with connect(conninfo) as conn, conn.cursor() as cur:
            cur.execute(query, params)
            columns = [column.name for column in cur.description]
            numeric = [column.name for column in cur.description if column.type_code == NUMERIC_OID]
            frame = pd.DataFrame.from_records(cur.fetchall(), columns=columns)
    except (pg_errors.UndefinedTable, pg_errors.InvalidSchemaName) as exc:
        raise WarehouseNotBuilt(
            f"The warehouse is not built yet ({exc.diag.message_primary}). "
            "Load data with `shop simulate`, build the marts with `shop build`, then reload this page."
        ) from exc
    except pg_errors.UndefinedColumn as exc:
        raise WarehouseNotBuilt(
            f"The warehouse is older than this dashboard ({exc.diag.message_primary}). "
            "Rebuild it with `shop build --full-refresh`, then reload this page."
        ) from exc
    except pg_errors.QueryCanceled as exc:
        raise DataUnavailable("A query took too long and was stopped; reload the page to try again.") from exc
    except psycopg.OperationalError as exc:
        raise DataUnavailable(
            f"The database stopped answering: {str(exc).strip()}. "
            "Check it with `shop db status` and reload the page."
        ) from exc
    for name in numeric:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    return frame


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def _fetch_live(conninfo: str, query: str, params: Params) -> pd.DataFrame:
    return _run(conninfo, query, params)


@st.cache_data(ttl=CHART_TTL_S, show_spinner=False)
def _fetch(conninfo: str, query: str, params: Params) -> pd.DataFrame:
    return _run(conninfo, query, params)


@st.cache_data(ttl=REFERENCE_TTL_S, show_spinner=False)
def _fetch_reference(conninfo: str, query: str, params: Params) -> pd.DataFrame:
    return _run(conninfo, query, params)


def _period(period: Period) -> Params:
    return {"start": period.start, "end": period.end}


# --- shared --------------------------------------------------------------------------------------


def categories() -> list[str]:
    frame = _fetch_reference(database_key(), "select distinct category from marts.products order by 1", {})
    return frame["category"].tolist()


def activity_range() -> pd.DataFrame:
    """First and last day with activity, and the number of days: the empty-warehouse check."""
    return _fetch_live(
        database_key(),
        "select min(activity_date) as first_day, max(activity_date) as last_day, count(*) as days "
        "from marts.sales_summary",
        {},
    )


def activity_span() -> tuple[date | None, date | None]:
    """The first and last day with activity (None, None for an empty warehouse): the date filter's bounds."""
    row = activity_range().iloc[0]
    return (None, None) if not row["days"] else (row["first_day"], row["last_day"])


def last_event() -> pd.DataFrame:
    """Newest load time of any event counted in the marts (one row; null when empty)."""
    return _fetch_live(
        database_key(), "select max(max_loaded_at) as last_loaded_at from marts.sales_summary", {}
    )


# --- overview: through the semantic layer --------------------------------------------------------

# The category filter: an entity of both the order lines and the category funnel, so one filter
# reaches the category's revenue, units and funnel (daily_category_funnel) and the orders holding it
# (order_lines).
_CATEGORY = "{{ Entity('product_category') }} = %(category)s"
_CATEGORY_GROUP_BY = "product_category"


@st.cache_resource(show_spinner=False, max_entries=2)  # the current manifest and the one before
def _semantic_layer(path: str, fingerprint: str) -> semantic.SemanticLayer:
    """One MetricFlow engine per version of the manifest; it keeps the SQL of every query it planned."""
    return semantic.SemanticLayer.load(Path(path))


def semantic_layer() -> semantic.SemanticLayer:
    """The semantic layer of the current semantic_manifest.json: a rewritten manifest (`shop build`
    after a metric changed) is loaded on the next run; otherwise nothing is planned again."""
    path = semantic.semantic_manifest_path(Settings().home_dir)
    try:
        return _semantic_layer(str(path), semantic.manifest_fingerprint(path))
    except FileNotFoundError as exc:
        raise WarehouseNotBuilt(
            f"The metrics' definitions are not compiled yet ({path} is missing). Build the warehouse with "
            "`shop build`, then reload this page."
        ) from exc
    except semantic.SemanticLayerUnavailable as exc:
        raise WarehouseNotBuilt(f"{exc}. Rebuild with `shop build`, then reload this page.") from exc


def metric_texts() -> dict[str, kpis.MetricText]:
    return {info.name: kpis.MetricText(info.label, info.description) for info in semantic_layer().metrics()}


def _metric_frame(fetch, query: semantic.MetricQuery, params: Params) -> pd.DataFrame:
    try:
        sql_text = semantic_layer().sql(query)
    except semantic.BadMetricQuery as exc:
        raise WarehouseNotBuilt(f"The dashboard's metric query no longer fits the definitions: {exc}") from exc
    return fetch(database_key(), sql_text, params)


def period_totals(period: Period, category: str | None) -> pd.DataFrame:
    """One row: the value of each Overview card's metric over the period, shop-wide or for one category.

    For a category: its revenue and view-to-purchase rate (the category funnel's), and the
    category_* metrics of the order lines (the orders holding one of its products, by order date).
    """
    if category is None:
        query = semantic.MetricQuery(saved_query="overview_kpis", where=(semantic.PERIOD_FILTER,))
        return _metric_frame(_fetch_live, query, _period(period))
    query = semantic.MetricQuery(saved_query="overview_category_kpis", where=(semantic.PERIOD_FILTER, _CATEGORY))
    return _metric_frame(_fetch_live, query, {**_period(period), "category": category})


def daily_sales(period: Period, category: str | None) -> pd.DataFrame:
    """Revenue, orders and units per day (shop-wide: the overview_daily saved query; for one category,
    the orders holding it); days without orders absent."""
    where = (semantic.PERIOD_FILTER,)
    if category is None:
        query = semantic.MetricQuery(saved_query="overview_daily", where=where)
        params = _period(period)
    else:
        query = semantic.MetricQuery(saved_query="overview_category_daily", where=(*where, _CATEGORY))
        params = {**_period(period), "category": category}
    frame = _metric_frame(_fetch, query, params).rename(columns=_without_category_prefix)
    days = pd.to_datetime(frame["metric_time__day"], utc=True).dt.date
    return frame.drop(columns="metric_time__day").assign(activity_date=days).sort_values("activity_date")


def _without_category_prefix(column: str) -> str:
    """A category_* metric's column under the shop-wide name of the figure it counts for one category."""
    return column.removeprefix("category_")


# --- overview: why revenue moved (app/decomposition.py does the arithmetic) ---------------------

def revenue_split_figures(period: Period, category: str | None) -> pd.DataFrame:
    """One row: revenue, orders and sessions over the period (the category's revenue and the orders
    holding its products when one is chosen; sessions always shop-wide).

    Revenue and orders are the KPI cards' own answer (period_totals, cached): counting orders reads
    a row per order (a category's, a line per order and product), the Overview's largest cost on a
    large shop."""
    where = (semantic.PERIOD_FILTER,)
    sessions = _metric_frame(_fetch_live, semantic.MetricQuery(metrics=("sessions",), where=where), _period(period))
    orders = period_totals(period, category).rename(columns=_without_category_prefix)[["revenue", "orders"]]
    return pd.concat([orders.reset_index(drop=True), sessions], axis=1)


def revenue_by_category(*periods: Period) -> pd.DataFrame:
    """Revenue per category in each period (the category funnel's): columns `category` and `revenue`
    (one period) or `revenue_0`, `revenue_1`, ... (several); categories without activity absent.

    One query by day and category over the span of the periods (revenue adds up over days)."""
    span = Period(min(period.start for period in periods), max(period.end for period in periods))
    query = semantic.MetricQuery(metrics=("revenue",), group_by=(_CATEGORY_GROUP_BY, "metric_time__day"),
                                 where=(semantic.PERIOD_FILTER,))
    frame = _metric_frame(_fetch_live, query, _period(span)).rename(columns={_CATEGORY_GROUP_BY: "category"})
    days = pd.to_datetime(frame["metric_time__day"], utc=True).dt.date
    columns = ["revenue"] if len(periods) == 1 else [f"revenue_{index}" for index in range(len(periods))]
    sums = {
        column: frame["revenue"].where((days >= period.start) & (days <= period.end))
        for column, period in zip(columns, periods, strict=True)
    }
    by_category = frame[["category"]].assign(**sums).groupby("category", sort=True)
    return by_category[columns].sum(min_count=1).dropna(how="all").reset_index()


# --- funnel --------------------------------------------------------------------------------------


def funnel_by_day(period: Period, category: str | None) -> pd.DataFrame:
    query = """
        select activity_date, sum(views) as views, sum(add_to_carts) as add_to_carts,
               sum(purchases) as purchases
        from marts.daily_category_funnel
        where activity_date between %(start)s and %(end)s
          and (%(category)s::text is null or category = %(category)s)
        group by activity_date
        order by activity_date
    """
    return _fetch(database_key(), query, {**_period(period), "category": category})


def funnel_by_category(period: Period, category: str | None) -> pd.DataFrame:
    query = """
        select category, sum(views) as views, sum(add_to_carts) as add_to_carts,
               sum(purchases) as purchases, sum(revenue) as revenue
        from marts.daily_category_funnel
        where activity_date between %(start)s and %(end)s
          and (%(category)s::text is null or category = %(category)s)
        group by category
        order by sum(views) desc
    """
    return _fetch(database_key(), query, {**_period(period), "category": category})


# --- products ------------------------------------------------------------------------------------


def product_sales(period: Period, category: str | None) -> pd.DataFrame:
    """Every product with activity in the period: revenue, units, views, purchases."""
    query = """
        select products.product_id, coalesce(products.product_name, 'product ' || products.product_id) as product_name,
               products.category, products.brand, products.list_price,
               sum(days.revenue) as revenue, sum(days.units_sold) as units_sold,
               sum(days.views) as views, sum(days.add_to_carts) as add_to_carts,
               sum(days.purchases) as purchases
        from marts.product_daily_performance as days
        inner join marts.products as products on days.product_id = products.product_id
        where days.activity_date between %(start)s and %(end)s
          and (%(category)s::text is null or products.category = %(category)s)
        group by products.product_id, products.product_name, products.category, products.brand,
                 products.list_price
        order by revenue desc, products.product_id
    """
    return _fetch(database_key(), query, {**_period(period), "category": category})


def sales_mix(period: Period, category: str | None) -> pd.DataFrame:
    """Revenue and units by category, or by brand within one category."""
    if category is None:
        query = """
            select category as segment, sum(revenue) as revenue, sum(units_sold) as units_sold
            from marts.daily_category_funnel
            where activity_date between %(start)s and %(end)s
            group by category
            order by revenue desc
        """
    else:
        query = """
            select coalesce(products.brand, 'unknown') as segment, sum(days.revenue) as revenue,
                   sum(days.units_sold) as units_sold
            from marts.product_daily_performance as days
            inner join marts.products as products on days.product_id = products.product_id
            where days.activity_date between %(start)s and %(end)s and products.category = %(category)s
            group by coalesce(products.brand, 'unknown')
            order by revenue desc
        """
    return _fetch(database_key(), query, {**_period(period), "category": category})


def product_profile(product_id: int) -> pd.DataFrame:
    query = """
        select product_id, sku, coalesce(product_name, 'product ' || product_id) as product_name, category,
               brand, list_price, views, add_to_carts,
               purchases, units_sold, orders, revenue, view_to_cart_rate, cart_to_purchase_rate,
               conversion_rate, first_activity_date, last_activity_date
        from marts.products
        where product_id = %(product_id)s
    """
    return _fetch(database_key(), query, {"product_id": product_id})


PRICE_CHANGES_MART = "price_changes"
PRODUCTS_SNAPSHOT = "snapshots.products_snapshot"


def product_prices_and_units(product_id: int, period: Period) -> pd.DataFrame:
    """Each day of the period with activity: units sold and the price the day's events carried."""
    query = """
        select activity_date, units_sold, price
        from marts.product_daily_performance
        where product_id = %(product_id)s and activity_date between %(start)s and %(end)s
        order by activity_date
    """
    return _fetch(database_key(), query, {**_period(period), "product_id": product_id})


def product_list_prices(product_id: int, period: Period) -> pd.DataFrame:
    """The catalogue's list-price versions of the product that overlap the period, from the products
    snapshot (valid_from, valid_to: null while current); no rows when the snapshot does not exist yet."""
    if not relation_exists(PRODUCTS_SNAPSHOT):
        return pd.DataFrame(columns=["valid_from", "valid_to", "price"])
    query = """
        select dbt_valid_from as valid_from, dbt_valid_to as valid_to, price
        from snapshots.products_snapshot
        where product_id = %(product_id)s and price is not null
          and dbt_valid_from < %(end)s::date + 1
          and (dbt_valid_to is null or dbt_valid_to >= %(start)s::date)
        order by dbt_valid_from
    """
    return _fetch(database_key(), query, {**_period(period), "product_id": product_id})


def product_price_changes(product_id: int, period: Period) -> pd.DataFrame:
    """The product's price changes in the period, with units and conversion 14 days before and after."""
    query = """
        select changed_on, previous_price, new_price, relative_change, units_before, units_after,
               conversion_before, conversion_after, days_until_next_change
        from marts.price_changes
        where product_id = %(product_id)s and changed_on between %(start)s and %(end)s
        order by changed_on
    """
    return _fetch(database_key(), query, {**_period(period), "product_id": product_id})


def product_days(product_id: int, period: Period) -> pd.DataFrame:
    query = """
        select activity_date, views, add_to_carts, purchases, units_sold, revenue
        from marts.product_daily_performance
        where product_id = %(product_id)s and activity_date between %(start)s and %(end)s
        order by activity_date
    """
    return _fetch(database_key(), query, {**_period(period), "product_id": product_id})


# --- customers -----------------------------------------------------------------------------------


def cohort_retention() -> pd.DataFrame:
    query = """
        select cohort_month, months_since_signup, cohort_size, active_users, purchasing_users,
               retention_rate, purchase_retention_rate
        from marts.signup_cohorts
        order by cohort_month, months_since_signup
    """
    return _fetch(database_key(), query, {})


def new_vs_returning_by_day(period: Period) -> pd.DataFrame:
    """Orders and revenue per day from first-time and from returning customers."""
    query = """
        select order_date,
               count(*) filter (where customer_order_number = 1) as new_orders,
               count(*) filter (where customer_order_number > 1) as returning_orders,
               coalesce(sum(revenue) filter (where customer_order_number = 1), 0) as new_revenue,
               coalesce(sum(revenue) filter (where customer_order_number > 1), 0) as returning_revenue
        from marts.orders
        where order_date between %(start)s and %(end)s
        group by order_date
        order by order_date
    """
    return _fetch(database_key(), query, _period(period))


def new_vs_returning_customers(period: Period) -> pd.DataFrame:
    """Buyers of the period: new (first order in it) and returning (ordered before it)."""
    query = """
        select
            count(distinct user_id) filter (where customer_order_number = 1) as new_customers,
            count(distinct user_id) - count(distinct user_id) filter (where customer_order_number = 1)
                as returning_customers
        from marts.orders
        where order_date between %(start)s and %(end)s
    """
    return _fetch(database_key(), query, _period(period))


def rfm_segments() -> pd.DataFrame:
    query = """
        select rfm_segment, count(*) as customers, sum(lifetime_revenue) as revenue,
               avg(orders) as average_orders, avg(recency_days) as average_recency_days
        from marts.customers
        group by rfm_segment
    """
    return _fetch(database_key(), query, {})


# --- recommendations -----------------------------------------------------------------------------


def recent_users(limit: int = 300) -> pd.DataFrame:
    """The most recently active users: the choices of the user picker."""
    query = """
        select user_id, full_name, orders, last_seen_at
        from marts.customers
        where last_seen_at is not null
        order by last_seen_at desc, user_id
        limit %(limit)s
    """
    return _fetch(database_key(), query, {"limit": limit})


def user_profile(user_id: int) -> pd.DataFrame:
    query = """
        select user_id, full_name, country_code, acquisition_channel, signed_up_at, sessions,
               orders, lifetime_revenue, average_order_value, last_seen_at, rfm_segment
        from marts.customers
        where user_id = %(user_id)s
    """
    return _fetch(database_key(), query, {"user_id": user_id})


def user_history(user_id: int, limit: int = 20) -> pd.DataFrame:
    """The products the user touched most recently, with what they did to each."""
    query = """
        select history.product_id, coalesce(products.product_name, 'product ' || products.product_id) as product_name,
               products.category, products.list_price,
               history.views, history.add_to_carts, history.purchases, history.last_interaction_at
        from marts.user_item_interactions as history
        inner join marts.products as products on history.product_id = products.product_id
        where history.user_id = %(user_id)s
        order by history.last_interaction_at desc, history.product_id
        limit %(limit)s
    """
    return _fetch(database_key(), query, {"user_id": user_id, "limit": limit})


def recommended_order_share(period: Period) -> pd.DataFrame:
    """Orders with a line that followed a recommendation, and their revenue, over the period."""
    query = """
        select count(*) as orders, coalesce(sum(is_recommended), 0) as recommended_orders,
               coalesce(sum(revenue), 0) as revenue,
               coalesce(sum(revenue) filter (where is_recommended = 1), 0) as recommended_revenue
        from marts.orders
        where order_date between %(start)s and %(end)s
    """
    return _fetch(database_key(), query, _period(period))


def relation_exists(name: str, schema: str = "marts") -> bool:
    """Whether <schema>.<name> (or a schema-qualified name) exists: for relations that arrive with
    later parts of the platform, or with a later build (the snapshot)."""
    qualified = name if "." in name else f"{schema}.{name}"
    frame = _fetch(database_key(), "select to_regclass(%(name)s) is not null as present", {"name": qualified})
    return bool(frame.loc[0, "present"])


VARIANT_MART = "recommendation_variant_daily"


def variant_performance(period: Period) -> pd.DataFrame:
    """Per recommender variant over the period: lists served (impressions) and clicked, clicks, carts,
    purchases and revenue (marts.recommendation_variant_daily), and the A/B statistics' sums over the
    variant's users (app/ab_statistics.py): each user's lists, clicked lists and revenue over the whole
    period are one unit (marts.recommendation_user_days added up per user), since the API assigns
    users, not days. `new_users` are those whose first list from the variant fell in the period;
    `days_without_clicked_lists` counts days built before the mart had clicked_lists (a full refresh
    fills them)."""
    query = """
        with totals as (
            select variant, sum(impressions) as impressions, sum(clicked_lists) as clicked_lists,
                   sum(clicks) as clicks, sum(add_to_carts) as add_to_carts, sum(purchases) as purchases,
                   sum(revenue) as revenue,
                   count(*) filter (where clicked_lists is null) as days_without_clicked_lists
            from marts.recommendation_variant_daily
            where activity_date between %(start)s and %(end)s
            group by variant
        ),
        per_user as (
            select variant, user_id, sum(lists) as lists, sum(clicked_lists) as clicked_lists,
                   sum(revenue) as revenue, max(is_first_day) as is_new
            from marts.recommendation_user_days
            where activity_date between %(start)s and %(end)s
            group by variant, user_id
        ),
        units as (
            select variant, count(*) as users, sum(is_new) as new_users,
                   sum(lists * lists) as lists_squared, sum(clicked_lists * clicked_lists) as clicked_lists_squared,
                   sum(lists * clicked_lists) as lists_clicked_lists,
                   sum(revenue * revenue) as revenue_squared, sum(lists * revenue) as lists_revenue
            from per_user
            group by variant
        )
        select totals.*, units.users, units.new_users, units.lists_squared, units.clicked_lists_squared,
               units.lists_clicked_lists, units.revenue_squared, units.lists_revenue
        from totals
        left join units on units.variant = totals.variant
        order by totals.variant
    """
    return _fetch(database_key(), query, _period(period))


def variant_entries(period: Period) -> pd.DataFrame:
    """The users who entered the A/B experiment in the period (their first list from any variant),
    per variant and the split they were served under (`weights`: the API's variant weights as JSON
    text, null where not recorded). Days built before the mart had is_first_list count each user's
    first list from the variant instead (a full refresh fills them)."""
    query = """
        select variant, first_list_weights::text as weights, count(*) as users
        from marts.recommendation_user_days
        where
            activity_date between %(start)s and %(end)s
            and (is_first_list = 1 or (is_first_list is null and is_first_day = 1))
        group by variant, first_list_weights::text
        order by variant, weights
    """
    return _fetch(database_key(), query, _period(period))


# --- data health ---------------------------------------------------------------------------------


def marts_present() -> list[str]:
    query = """
        select table_name from information_schema.tables
        where table_schema = 'marts' and table_name = any(%(names)s)
        order by table_name
    """
    frame = _fetch(database_key(), query, {"names": list(MART_FRESHNESS_COLUMNS)})
    return frame["table_name"].tolist()


def mart_freshness() -> pd.DataFrame:
    """Rows and newest data of every mart that exists (missing ones are simply absent)."""
    present = marts_present()
    if not present:
        return pd.DataFrame(columns=["mart", "rows", "newest"])
    parts = [
        sql.SQL("select {name} as mart, count(*) as rows, max({column})::timestamptz as newest from {table}").format(
            name=sql.Literal(name),
            column=sql.Identifier(MART_FRESHNESS_COLUMNS[name]),
            table=sql.Identifier("marts", name),
        )
        for name in present
    ]
    query = sql.SQL(" union all ").join(parts).as_string()
    return _fetch(database_key(), query, {})


SOURCE_FRESHNESS_MART = "source_freshness"


def source_freshness() -> pd.DataFrame:
    """Newest row of each raw table, measured by the warehouse's marts.source_freshness view."""
    return _fetch_live(
        database_key(),
        "select source_table, newest_at from marts.source_freshness order by source_table",
        {},
    )



def refresh_runs(limit: int = 20) -> pd.DataFrame:
    """The newest runs of the live demo's refresh loop (shop_meta.refresh_runs: operational metadata
    the loop writes, read here because no dbt build can report on the builds themselves)."""
    query = """
        select kind, attempt, started_at, finished_at,
               extract(epoch from finished_at - started_at)::float8 as seconds,
               succeeded, models, data_tests, failures, message
        from shop_meta.refresh_runs
        order by started_at desc
        limit %(limit)s
    """
    return _fetch_live(database_key(), query, {"limit": limit})


# --- alerts: the warehouse's anomaly checks ------------------------------------------------------
# monitoring.alerts is the checks' own mart (dbt_project/models/monitoring), built on PostgreSQL only.

ALERTS_SCHEMA = "monitoring"
ALERTS_MODEL = "alerts"
ALERT_COLUMNS = ["kind", "metric", "window_start", "window_end", "score", "evidence"]


def open_alerts() -> pd.DataFrame:
    """The open alerts (their window ended in the last days the checks judged), newest first; an empty
    frame when the checks are not built."""
    if not relation_exists(ALERTS_MODEL, ALERTS_SCHEMA):
        return pd.DataFrame(columns=ALERT_COLUMNS)
    query = """
        select kind, metric, window_start, window_end, score, evidence
        from monitoring.alerts
        where is_open
        order by window_end desc, kind, metric
    """
    return _fetch_live(database_key(), query, {})


def alerts_overlapping(period: Period) -> pd.DataFrame:
    """Alerts, open or not, whose window overlaps the period's days (UTC); empty when not built."""
    if not relation_exists(ALERTS_MODEL, ALERTS_SCHEMA):
        return pd.DataFrame(columns=ALERT_COLUMNS)
    query = """
        select kind, metric, window_start, window_end, score, evidence
        from monitoring.alerts
        where window_start < cast(%(end)s as date) + 1
          and window_end > cast(%(start)s as date)
        order by window_start
    """
    return _fetch_live(database_key(), query, _period(period))
