"""The semantic layer, the products snapshot and source freshness on one built warehouse.

Every metric, planned by MetricFlow from the project's YAML, equals what the marts give when asked
directly in SQL; a metric's YAML edited in a copy of the project reaches `shop metrics` through the
next `shop build`; the snapshot keeps each price change (two on one day included); `dbt source
freshness` judges each source against its thresholds; every model has a data test.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest
from typer.testing import CliRunner

from shop import dbt_runner
from shop.cli import app as shop_cli
from shopcore import db as shop_db
from shopcore import dbt_artifacts, semantic
from shopcore.settings import get_settings
from tests.support import REPO_ROOT, run_shop

from . import synthetic
from .support import build_synthetic_shop, conninfo

pytestmark = pytest.mark.slow

SIZE = synthetic.ShopSize(events=6_000, users=150, products=30, days=20, chunks=2)


@pytest.fixture(scope="module")
def built(warehouse_env, dbt_home):
    return build_synthetic_shop(warehouse_env, dbt_home, SIZE)


@pytest.fixture(scope="module")
def layer(built, dbt_home) -> semantic.SemanticLayer:
    return semantic.SemanticLayer.load(semantic.semantic_manifest_path(dbt_home))


@pytest.fixture()
def conn(warehouse_env):
    with psycopg.connect(conninfo(warehouse_env)) as connection:
        connection.execute("set timezone = 'UTC'")  # days are UTC days, as in the warehouse
        yield connection


# Each metric as plain SQL on the marts (another mart than the metric's where there is one, so
# that the two paths share as little as possible), over %(start)s .. %(end)s.
REFERENCE_SQL = {
    "revenue": "select sum(revenue) from marts.sales_summary where activity_date between %(start)s and %(end)s",
    "orders": "select sum(orders) from marts.sales_summary where activity_date between %(start)s and %(end)s",
    "units": "select sum(units_sold) from marts.sales_summary where activity_date between %(start)s and %(end)s",
    "customers": "select count(distinct user_id) from marts.orders where order_date between %(start)s and %(end)s",
    "average_order_value": "select sum(revenue)::float8 / nullif(sum(orders), 0) from marts.sales_summary "
                           "where activity_date between %(start)s and %(end)s",
    # The order lines' metrics, which a category filters (tests/app/test_pages.py checks them with
    # one): over every category they equal the shop-wide figures.
    "category_orders": "select count(*) from marts.orders where order_date between %(start)s and %(end)s",
    "category_customers": "select count(distinct user_id) from marts.orders "
                          "where order_date between %(start)s and %(end)s",
    "category_average_order_value": "select sum(revenue)::float8 / nullif(count(*), 0) from marts.orders "
                                    "where order_date between %(start)s and %(end)s",
    "new_customers": "select count(distinct user_id) from marts.customers "
                     "where first_order_at::date between %(start)s and %(end)s",
    "returning_customers": "select count(distinct user_id) from marts.orders o where order_date between %(start)s "
                           "and %(end)s and exists (select 1 from marts.orders p where p.user_id = o.user_id "
                           "and p.order_date < %(start)s)",
    "sessions": "select sum(sessions) from marts.sales_summary where activity_date between %(start)s and %(end)s",
    "converting_sessions": "select sum(converting_sessions) from marts.sales_summary "
                           "where activity_date between %(start)s and %(end)s",
    "conversion_rate": "select sum(converting_sessions)::float8 / nullif(sum(sessions), 0) from marts.sales_summary "
                       "where activity_date between %(start)s and %(end)s",
    "product_views": "select sum(views) from marts.sales_summary where activity_date between %(start)s and %(end)s",
    "cart_adds": "select sum(add_to_carts) from marts.sales_summary where activity_date between %(start)s and %(end)s",
    "purchase_lines": "select sum(purchases) from marts.sales_summary "
                      "where activity_date between %(start)s and %(end)s",
    "view_to_cart_rate": "select sum(add_to_carts)::float8 / nullif(sum(views), 0) from marts.sales_summary "
                         "where activity_date between %(start)s and %(end)s",
    "cart_to_purchase_rate": "select sum(purchases)::float8 / nullif(sum(add_to_carts), 0) from marts.sales_summary "
                             "where activity_date between %(start)s and %(end)s",
    "view_to_purchase_rate": "select sum(purchases)::float8 / nullif(sum(views), 0) from marts.sales_summary "
                             "where activity_date between %(start)s and %(end)s",
    "visitors": "select count(distinct user_id) from (select session_id, user_id, min(occurred_at)::date as day "
                "from marts.interaction_events group by session_id, user_id) as visits "
                "where day between %(start)s and %(end)s",
    "revenue_per_visitor": "select (select sum(revenue) from marts.sales_summary where activity_date between "
                           "%(start)s and %(end)s)::float8 / nullif((select count(distinct user_id) "
                           "from marts.sessions where session_date between %(start)s and %(end)s), 0)",
    "ordering_customers": "select count(*) from marts.customers where orders >= 1 "
                          "and first_order_at::date between %(start)s and %(end)s",
    "repeat_customers": "select count(*) from marts.customers where orders >= 2 "
                        "and first_order_at::date between %(start)s and %(end)s",
    "repeat_purchase_rate": "select count(*) filter (where orders >= 2)::float8 / nullif(count(*), 0) from marts.customers "
                            "where orders >= 1 and first_order_at::date between %(start)s and %(end)s",
    "recommendation_impressions": "select sum(impressions) from marts.recommendation_variant_daily "
                                  "where activity_date between %(start)s and %(end)s",
    "recommendation_clicks": "select sum(clicks) from marts.recommendation_variant_daily "
                             "where activity_date between %(start)s and %(end)s",
    "recommendation_clicked_lists": "select sum(clicked_lists) from marts.recommendation_variant_daily "
                                    "where activity_date between %(start)s and %(end)s",
    "recommendation_ctr": "select sum(clicked_lists)::float8 / nullif(sum(impressions), 0) "
                          "from marts.recommendation_variant_daily "
                          "where activity_date between %(start)s and %(end)s",
    "attributed_revenue": "select sum(quantity * unit_price) from marts.interaction_events "
                          "where event_type = 'purchase' and recommendation_variant is not null "
                          "and occurred_at::date between %(start)s and %(end)s",
}


def _as_float(value) -> float | None:
    return None if value is None else float(value)


def test_the_semantic_manifest_passes_metricflows_validations(built, dbt_home) -> None:
    assert semantic.validate(semantic.semantic_manifest_path(dbt_home)) == []


def test_every_metric_has_a_reference_query(layer) -> None:
    assert {metric.name for metric in layer.metrics()} == set(REFERENCE_SQL)


def test_each_metric_through_metricflow_equals_the_marts_sql(layer, conn) -> None:
    first, last = conn.execute("select min(activity_date), max(activity_date) from marts.sales_summary").fetchone()
    exercised = set()
    # The whole history, and its second half (returning customers need earlier orders).
    for start, end in ((first, last), (first + (last - first) / 2, last)):
        params = {"start": start, "end": end}
        query = semantic.MetricQuery(metrics=tuple(sorted(REFERENCE_SQL)), where=(semantic.PERIOD_FILTER,))
        columns, rows = layer.run(conn, query, params)
        through_metricflow = dict(zip(columns, rows[0]))
        for name, reference in REFERENCE_SQL.items():
            expected = _as_float(conn.execute(reference, params).fetchone()[0]) or 0.0
            assert (_as_float(through_metricflow[name]) or 0.0) == pytest.approx(expected), (name, start, end)
            if expected > 0:
                exercised.add(name)
    assert exercised == set(REFERENCE_SQL), "the synthetic shop should give every metric a value"


def test_a_metric_by_week_and_by_variant_adds_up(layer, conn) -> None:
    _, weekly = layer.run(conn, semantic.MetricQuery(metrics=("revenue",), group_by=("metric_time__week",)))
    total = conn.execute("select sum(revenue) from marts.sales_summary").fetchone()[0]
    assert len(weekly) >= 3 and sum(revenue for _, revenue in weekly) == total
    _, by_variant = layer.run(conn, semantic.MetricQuery(metrics=("attributed_revenue",),
                                                         group_by=("variant_day__variant",)))
    expected = conn.execute("select variant, sum(revenue) from marts.recommendation_variant_daily group by variant "
                            "order by variant").fetchall()
    assert sorted(by_variant) == expected and len(expected) >= 2


def test_bad_queries_say_what_is_wrong(layer) -> None:
    with pytest.raises(semantic.BadMetricQuery, match="Unknown metric: no_such_metric"):
        layer.sql(semantic.MetricQuery(metrics=("revenue", "no_such_metric")))
    with pytest.raises(semantic.BadMetricQuery, match="cannot resolve metric_time__fortnight.*metric_time__day"):
        layer.sql(semantic.MetricQuery(metrics=("revenue",), group_by=("metric_time__fortnight",)))
    # an order is not split by category (MetricFlow never joins an order to its lines): category_orders is
    with pytest.raises(semantic.BadMetricQuery, match="cannot resolve .*product_category.* for the metric orders"):
        layer.sql(semantic.MetricQuery(metrics=("orders",), group_by=("product_category",)))


def test_shop_metrics_query_prints_metrics_and_refuses_bad_input(layer, database, warehouse_env, dbt_home,
                                                                  conn) -> None:
    info = database.info
    url = shop_db.ConnectionInfo(info.host, info.port, info.user, warehouse_env["PGDATABASE"], info.password).url()
    env = {"SHOP_HOME": str(dbt_home), "SHOP_DATABASE_URL": url}
    shown = run_shop("metrics", "query", "--metrics", "revenue,orders", "--group-by", "metric_time__week",
                     "--format", "json", env=env)
    weeks = json.loads(shown.stdout)
    revenue, orders = conn.execute("select sum(revenue), sum(orders) from marts.sales_summary").fetchone()
    assert sum(week["revenue"] for week in weeks) == pytest.approx(float(revenue))
    assert sum(week["orders"] for week in weeks) == orders
    assert all(date.fromisoformat(week["metric_time__week"]).weekday() == 0 for week in weeks)  # Mondays
    as_csv = run_shop("metrics", "query", "--metrics", "category_customers", "--group-by", "order_line__category",
                      "--format", "csv", env=env).stdout.splitlines()
    assert as_csv[0] == "order_line__category,category_customers" and len(as_csv) > 2

    unknown = run_shop("metrics", "query", "--metrics", "revenue,no_such_metric", env=env, check=False)
    assert unknown.returncode == 1
    assert "Unknown metric: no_such_metric. Known metrics: attributed_revenue" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    bad_group = run_shop("metrics", "query", "--metrics", "revenue", "--group-by", "metric_time__fortnight",
                         env=env, check=False)
    assert bad_group.returncode == 1 and "Traceback" not in bad_group.stderr
    assert "cannot resolve metric_time__fortnight for the metric revenue" in bad_group.stderr
    assert "metric_time__day" in bad_group.stderr
    listed = run_shop("metrics", "list", env=env).stdout
    assert "revenue_per_visitor" in listed and "Saved queries: overview_category_daily, overview_category_kpis" in listed


def _shop_env(database, warehouse_env, home) -> dict[str, str]:
    info = database.info
    url = shop_db.ConnectionInfo(info.host, info.port, info.user, warehouse_env["PGDATABASE"], info.password).url()
    return {"SHOP_HOME": str(home), "SHOP_DATABASE_URL": url}


def _metric(home, name: str) -> dict:
    manifest = json.loads(semantic.semantic_manifest_path(home).read_text())
    return next(metric for metric in manifest["metrics"] if metric["name"] == name)


def test_shop_build_reparses_an_edited_metric_and_shop_metrics_follows(
    built, database, warehouse_env, tmp_path, monkeypatch, conn
) -> None:
    """A real edit of a metric's YAML (in a copy of the project): the next `shop build` writes a new
    semantic manifest, and `shop metrics` answers with the new definition."""
    project = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "dbt_project", project / "dbt_project")
    shutil.copy2(REPO_ROOT / "dbt_project.yml", project / "dbt_project.yml")
    monkeypatch.setattr(dbt_runner, "PROJECT_DIR", project)
    home = tmp_path / "home"
    env = _shop_env(database, warehouse_env, home)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()  # `shop metrics` below reads these settings in this process
    try:
        assert dbt_runner.ensure_semantic_manifest(warehouse_env, home=home).success
        assert _metric(home, "revenue")["type_params"]["measure"]["name"] == "revenue"

        metrics_yml = project / "dbt_project" / "models" / "marts" / "_marts__metrics.yml"
        text = metrics_yml.read_text()
        edited = text.replace("    label: Revenue\n", "    label: Revenue (units)\n", 1).replace(
            "      measure: revenue\n", "      measure: units\n", 1)
        assert edited.count("Revenue (units)") == 1 and edited.count("measure: units\n") == 2
        metrics_yml.write_text(edited)
        cli = CliRunner()
        # `shop build` (of one small model: the parse, not the build, is under test)
        built_again = cli.invoke(shop_cli, ["build", "--select", "metricflow_time_spine"])
        assert built_again.exit_code == 0, built_again.output
        revenue = _metric(home, "revenue")
        assert revenue["label"] == "Revenue (units)" and revenue["type_params"]["measure"]["name"] == "units"

        shown = cli.invoke(shop_cli, ["metrics", "query", "--metrics", "revenue", "--format", "json"])
        assert shown.exit_code == 0, shown.output
        (units,) = conn.execute("select sum(units_sold) from marts.sales_summary").fetchone()
        assert [row["revenue"] for row in json.loads(shown.output)] == [pytest.approx(float(units))]
        # with the YAML unchanged since, the manifest is current: no parse
        parsed_at = semantic.semantic_manifest_path(home).stat().st_mtime_ns
        assert dbt_runner.ensure_semantic_manifest(warehouse_env, home=home) is None
        assert semantic.semantic_manifest_path(home).stat().st_mtime_ns == parsed_at
    finally:
        get_settings.cache_clear()


def test_every_model_has_a_data_test(built, warehouse_env, dbt_home) -> None:
    parsed = dbt_runner.run_dbt(["parse"], warehouse_env, home=dbt_home)
    assert parsed.success, parsed.exception
    manifest = json.loads((dbt_artifacts.target_dir(dbt_home) / "manifest.json").read_text())
    models = {uid for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"}
    tested = {
        parent
        for node in manifest["nodes"].values() if node["resource_type"] == "test"
        for parent in node["depends_on"]["nodes"]
    }
    assert sorted(models - tested) == []


def _snapshot_build(env, home) -> None:
    result = dbt_runner.run_dbt(["snapshot"], env, home=home, write_manifest=False)
    assert result.success and result.nodes, (result.exception, result.errors)


def test_the_snapshot_keeps_every_price_a_product_had_two_changes_on_one_day_included(
    built, warehouse_env, dbt_home, conn
) -> None:
    product_id, first_price, updated = conn.execute(
        "select product_id, price, updated_at from raw.products order by product_id limit 1").fetchone()
    # two changes on the day after the product's last one, in the morning and in the afternoon
    morning = datetime.combine(updated.date() + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
    morning += timedelta(hours=9)
    for price, at in ((first_price + 1, morning), (first_price + 2, morning + timedelta(hours=6))):
        conn.execute("update raw.products set price = %s, category = 'moved', updated_at = %s where product_id = %s",
                     (price, at, product_id))
        conn.commit()
        _snapshot_build(warehouse_env, dbt_home)
    history = conn.execute(
        "select price, category, dbt_valid_from, dbt_valid_to from snapshots.products_snapshot "
        "where product_id = %s order by dbt_valid_from", (product_id,)).fetchall()
    assert [row[0] for row in history] == [first_price, first_price + 1, first_price + 2]
    assert history[1][1] == history[2][1] == "moved"
    assert [row[2] for row in history] == [updated, morning, morning + timedelta(hours=6)]
    # each version ends when the next begins; the newest is current
    assert [row[3] for row in history] == [morning, morning + timedelta(hours=6), None]
    # untouched products have one version each
    assert conn.execute("select count(*) from snapshots.products_snapshot where product_id <> %s",
                        (product_id,)).fetchone()[0] == SIZE.products - 1


def test_source_freshness_judges_each_source_against_its_thresholds(built, warehouse_env, dbt_home, conn) -> None:
    now = datetime.now(timezone.utc)
    conn.execute("update raw.users set signup_at = %s", (now - timedelta(days=10),))  # warn: after 7 days
    conn.execute("update raw.products set updated_at = %s", (now - timedelta(days=200),))  # error: after 180
    conn.execute("update raw.interactions set loaded_at = %s", (now - timedelta(hours=1),))  # fresh
    conn.execute("truncate raw.served_recommendations")  # no rows: error
    conn.commit()
    result = dbt_runner.source_freshness(warehouse_env, home=dbt_home)
    assert result.success, (result.exception, result.errors)
    kept = dbt_artifacts.read_sources(dbt_artifacts.last_freshness_path(dbt_home))
    statuses = {source.source_table: source.status for source in kept.sources}
    assert statuses == {"raw.interactions": "fresh", "raw.users": "warn", "raw.products": "error",
                        "raw.served_recommendations": "error"}
    empty = next(source for source in kept.sources if source.source_table == "raw.served_recommendations")
    assert empty.max_loaded_at is None and empty.message == "the table has no rows"
    assert kept.worst == "error"
