"""The semantic layer: the dbt project's metrics, compiled to SQL by MetricFlow, run with psycopg.

The metrics, semantic models and saved queries are YAML in the dbt project
(dbt_project/models/marts/_marts__semantic_models.yml, _marts__metrics.yml); dbt turns them into
target/semantic_manifest.json (`dbt parse`, and `shop build` whenever the project changed). This
module reads that file and asks MetricFlow for the SQL of a query. Planning a query takes MetricFlow
a noticeable moment, so a `SemanticLayer` compiles each distinct query once and keeps its SQL;
callers pass the values that change between runs (a period, a category) as psycopg parameters,
written into the query's filters as `%(name)s` placeholders. MetricFlow never runs a query itself:
no dbt adapter, no connection of its own.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopcore.dbt_artifacts import dbt_home
from shopcore.errors import ShopError

SEMANTIC_MANIFEST = "semantic_manifest.json"

# The filters the dashboard adds to a query: a period and a category, as psycopg placeholders.
PERIOD_FILTER = "{{ TimeDimension('metric_time', 'day') }} between %(start)s and %(end)s"


class SemanticLayerUnavailable(ShopError):
    """No semantic manifest yet, or one MetricFlow cannot load."""


class BadMetricQuery(ShopError):
    """A metric query MetricFlow refuses: an unknown metric, group-by or filter."""


def semantic_manifest_path(home: Path | None = None) -> Path:
    return dbt_home(home) / "target" / SEMANTIC_MANIFEST


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    type: str
    description: str
    definition: str


@dataclass(frozen=True)
class MetricQuery:
    """One query of the semantic layer: what to compute, by what, and under which filters."""

    metrics: tuple[str, ...] = ()
    group_by: tuple[str, ...] = ()
    where: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    saved_query: str | None = None


@dataclass
class SemanticLayer:
    """MetricFlow over one semantic manifest, with the SQL of every query it compiled kept."""

    manifest_path: Path
    fingerprint: str
    _engine: Any = field(repr=False)
    _raw: dict = field(repr=False)
    _sql: dict[MetricQuery, str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, path: Path | None = None) -> SemanticLayer:
        path = Path(path) if path is not None else semantic_manifest_path()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise SemanticLayerUnavailable(
                f"No semantic manifest at {path}: build the warehouse with `shop build` first."
            ) from exc
        from metricflow.engine.metricflow_engine import MetricFlowEngine
        from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest
        from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

        raw = _without_database(json.loads(text))
        try:
            manifest = parse_manifest_from_dbt_generated_manifest(manifest_json_string=json.dumps(raw))
            engine = MetricFlowEngine(SemanticManifestLookup(manifest), _CompileOnlyPostgres())
        except Exception as exc:  # noqa: BLE001 - any failure to load means the same thing to the caller
            raise SemanticLayerUnavailable(f"MetricFlow cannot load {path}: {exc}") from exc
        return cls(path, manifest_fingerprint(path), engine, raw)

    def metrics(self) -> list[MetricInfo]:
        """Every metric of the manifest with a one-line definition, sorted by name."""
        measures = {
            measure["name"]: (model["name"], measure)
            for model in self._raw.get("semantic_models", [])
            for measure in model.get("measures", [])
        }
        return sorted((_metric_info(raw, measures) for raw in self._raw.get("metrics", [])), key=lambda m: m.name)

    def saved_queries(self) -> list[str]:
        return sorted(raw["name"] for raw in self._raw.get("saved_queries", []))

    def sql(self, query: MetricQuery) -> str:
        """The SQL of `query` (psycopg placeholders kept), compiled once per query."""
        with self._lock:
            cached = self._sql.get(query)
            if cached is None:
                cached = self._sql[query] = self._compile(query)
            return cached

    def _compile(self, query: MetricQuery) -> str:
        from metricflow.engine.metricflow_engine import MetricFlowQueryRequest
        from metricflow_semantics.errors.error_classes import MetricFlowException

        if not query.metrics and query.saved_query is None:
            raise BadMetricQuery("Name at least one metric (see `shop metrics list`).")
        known = {info.name for info in self.metrics()}
        unknown = [name for name in query.metrics if name not in known]
        if unknown:
            raise BadMetricQuery(
                f"Unknown metric{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
                f"Known metrics: {', '.join(sorted(known))}."
            )
        if query.saved_query is not None and query.saved_query not in self.saved_queries():
            raise BadMetricQuery(
                f"Unknown saved query: {query.saved_query}. Known: {', '.join(self.saved_queries())}."
            )
        request = MetricFlowQueryRequest.create(
            saved_query_name=query.saved_query,
            metric_names=list(query.metrics) or None,
            group_by_names=list(query.group_by) or None,
            where_constraints=list(query.where) or None,
            order_by_names=list(query.order_by) or None,
        )
        try:
            result = self._engine.explain(request)
            return result.sql_statement.sql
        except MetricFlowException as exc:
            raise BadMetricQuery(_explain_error(str(exc))) from exc
        except Exception as exc:  # noqa: BLE001 - MetricFlow raises plain errors for some bad input too
            raise BadMetricQuery(f"MetricFlow cannot plan this query: {_first_lines(str(exc))}") from exc

    def run(self, conn: Any, query: MetricQuery, params: Mapping[str, Any] | None = None) -> tuple[list[str], list]:
        """Execute `query` on a psycopg connection: (column names, rows)."""
        with conn.cursor() as cur:
            # No parameters, no placeholder parsing: a user's filter may hold a literal %.
            cur.execute(self.sql(query), dict(params) if params else None)
            return [column.name for column in cur.description], cur.fetchall()


def _without_database(raw: dict) -> dict:
    """The manifest with relations named by schema and table only.

    dbt writes the database it parsed against into every relation; PostgreSQL refuses a reference to
    another database, and the same manifest serves any database the project was built in (a test's,
    SHOP_DATABASE_URL's): the connection decides which.
    """
    relations = [model.get("node_relation") for model in raw.get("semantic_models", [])]
    configuration = raw.get("project_configuration") or {}
    relations += [spine.get("node_relation") for spine in configuration.get("time_spines", [])]
    for relation in relations:
        if relation:
            relation["database"] = None
            relation["relation_name"] = f'"{relation["schema_name"]}"."{relation["alias"]}"'
    return raw


def manifest_fingerprint(path: Path) -> str:
    """Changes when the file is rewritten: the key a long-lived reader reloads on."""
    stat = path.stat()
    return f"{stat.st_mtime_ns}-{stat.st_size}"


def _metric_info(raw: Mapping[str, Any], measures: Mapping[str, tuple[str, Mapping[str, Any]]]) -> MetricInfo:
    params = raw.get("type_params") or {}
    kind = raw.get("type", "")
    if kind == "simple":
        name = (params.get("measure") or {}).get("name", "")
        model, measure = measures.get(name, ("?", {}))
        agg = str(measure.get("agg", "?")).replace("count_distinct", "count distinct")
        definition = f"{agg}({measure.get('expr') or name}) over {model}"
    elif kind == "ratio":
        definition = f"{params['numerator']['name']} / {params['denominator']['name']}"
    elif kind == "derived":
        definition = params.get("expr", "")
    else:
        definition = kind
    if raw.get("filter"):
        definition += f" where {raw['filter']}"
    return MetricInfo(raw["name"], raw.get("label") or raw["name"], kind, raw.get("description") or "", definition)


def _explain_error(text: str) -> str:
    """MetricFlow's resolution report in one paragraph: what it could not resolve, and its suggestions."""
    asked = re.search(r"Query Input:\s*\n\s*(.+)", text)
    suggestions = re.search(r"Suggestions:\s*\[(.*?)\]", text, re.S)
    if asked is None:
        return _first_lines(text)
    message = f"MetricFlow cannot resolve {asked.group(1).strip()}"
    metric = re.search(r"for\s+\w*Metric\('(\w+)'\)", text)
    if metric:
        message += f" for the metric {metric.group(1)}"
    if suggestions:
        names = re.findall(r"'([^']+)'", suggestions.group(1))
        message += f". Did you mean one of: {', '.join(names)}?" if names else "."
    return message + " (See `shop metrics list`.)"


def _first_lines(text: str, lines: int = 6) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[:lines])


def validate(path: Path | None = None) -> list[str]:
    """The semantic validations `mf validate-configs` runs on the manifest: its errors and warnings."""
    from metricflow_semantic_interfaces.validations.semantic_manifest_validator import SemanticManifestValidator
    from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest

    path = Path(path) if path is not None else semantic_manifest_path()
    manifest = parse_manifest_from_dbt_generated_manifest(manifest_json_string=path.read_text(encoding="utf-8"))
    results = SemanticManifestValidator().validate_semantic_manifest(manifest)
    return [issue.as_readable_str() for issue in (*results.errors, *results.warnings)]


class _CompileOnlyPostgres:
    """MetricFlow's SqlClient protocol for PostgreSQL, for planning only: this module runs the SQL."""

    @property
    def sql_engine_type(self) -> Any:
        from metricflow.protocols.sql_client import SqlEngine

        return SqlEngine.POSTGRES

    @property
    def sql_plan_renderer(self) -> Any:
        from metricflow.sql.render.postgres import PostgresSQLSqlPlanRenderer

        return PostgresSQLSqlPlanRenderer()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the semantic layer runs its SQL with psycopg, not through MetricFlow")

    query = execute = dry_run = _refuse

    def close(self) -> None:
        return None

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return f"%({bind_parameter_key})s"


def parse_list(values: Sequence[str]) -> tuple[str, ...]:
    """`a,b` and repeated options alike: the non-empty, stripped names in order."""
    return tuple(name.strip() for value in values for name in value.split(",") if name.strip())
