"""Run the dbt project (the warehouse) in-process through dbt's programmatic entry point, dbtRunner.

The project lives at the repository root (dbt_project.yml next to the `shop` package). Everything dbt
writes (profiles.yml, target/, logs/) goes under SHOP_HOME/dbt so the repository stays clean. The
connection comes from libpq environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE),
which profiles.example.yml reads with env_var(): the caller passes them in `env`.
"""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shop import (
    build_marks,
    build_order,
    dbt_connections,
    dbt_memo,
    jinja_code_cache,
    json_schema_cache,
    mashumaro_stubs,
    parse_state_cache,
    unit_test_gate,
)
from shopcore import home_lock
from shopcore.dbt_artifacts import (
    FAILED_STATUSES,
    PROJECT_DIR,
    dbt_home,
    last_build_results_path,
    last_freshness_path,
    read_sources,
)
from shopcore.errors import ShopError
from shopcore.semantic import semantic_manifest_path
from shopcore.settings import get_settings

PROFILE_TEMPLATE = PROJECT_DIR / "profiles.example.yml"

# Set for every run unless the caller gives its own value.
DEFAULT_ENV = {
    "PGTZ": "UTC",  # days are UTC days, whatever the server's time zone
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",  # no network calls
    "DO_NOT_TRACK": "1",
}

# dbtRunner keeps global state (flags, the event manager): one invocation at a time per process.
_RUN_LOCK = threading.Lock()


@dataclass(frozen=True)
class NodeProgress:
    """One node (model, test, unit test, ...) finished: what the progress callback receives."""

    unique_id: str
    name: str
    resource_type: str
    status: str
    index: int
    total: int | None


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    name: str
    resource_type: str
    status: str
    execution_time: float
    message: str | None = None
    failures: int | None = None

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES


@dataclass
class DbtResult:
    """What a dbt invocation did, in a shape the CLI and the tests can use without dbt's classes."""

    command: list[str]
    success: bool
    elapsed: float
    nodes: list[NodeResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    exception: str | None = None
    target_dir: Path | None = None

    def count(self, resource_type: str, status: str | None = None) -> int:
        return sum(
            1
            for node in self.nodes
            if node.resource_type == resource_type and (status is None or node.status == status)
        )

    @property
    def models(self) -> int:
        return self.count("model")

    @property
    def data_tests(self) -> int:
        return self.count("test")

    @property
    def unit_tests(self) -> int:
        return self.count("unit_test")

    @property
    def failing(self) -> list[NodeResult]:
        return [node for node in self.nodes if node.failed]

    @property
    def failing_names(self) -> list[str]:
        return [node.name for node in self.failing]

    @property
    def skipped(self) -> list[NodeResult]:
        return [node for node in self.nodes if node.status == "skipped"]

    @property
    def warning_count(self) -> int:
        """Warnings of nodes (tests with severity warn) plus warnings dbt logged (deprecations, ...)."""
        return len(self.warnings)

    def summary(self) -> str:
        line = (
            f"{self.models} models, {self.data_tests} data tests, {self.unit_tests} unit tests, "
            f"{self.warning_count} warnings, {len(self.failing)} failed, {len(self.skipped)} skipped "
            f"in {self.elapsed:.1f}s"
        )
        return line


ProgressCallback = Callable[[NodeProgress], None]


class NothingSelected(ShopError):
    """A build's selection names nothing in the project (dbt itself would only warn and succeed)."""


def _keep_build_results(target: Path, home: Path | None) -> None:
    """Copy a finished build's run_results.json next to target/ (atomically: readers never see half)."""
    _keep(target / "run_results.json", last_build_results_path(home))


def _keep(source: Path, destination: Path) -> None:
    if not source.is_file():
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, partial)
    os.replace(partial, destination)


def prepare_profiles_dir(home: Path | None = None) -> Path:
    """Write SHOP_HOME/dbt/profiles.yml: a copy of profiles.example.yml (its env_var() fields read `env`)."""
    if not PROFILE_TEMPLATE.is_file():
        raise ShopError(f"{PROFILE_TEMPLATE} is missing: the dbt project is incomplete (check your clone).")
    directory = dbt_home(home)
    directory.mkdir(parents=True, exist_ok=True)
    profile = directory / "profiles.yml"
    template = PROFILE_TEMPLATE.read_text(encoding="utf-8")
    if not profile.is_file() or profile.read_text(encoding="utf-8") != template:
        shutil.copyfile(PROFILE_TEMPLATE, profile)
    return directory


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a dbt run (dbt reads os.environ), then restore."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        os.environ.update(values)
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


class _EventCollector:
    """dbt event callback: progress per finished node, and the warnings and errors dbt logs."""

    def __init__(self, on_progress: ProgressCallback | None) -> None:
        self.on_progress = on_progress
        self.total: int | None = None
        self.finished = 0
        self.warnings: list[str] = []
        self.errors: list[str] = []

    def __call__(self, msg: Any) -> None:
        try:
            self._handle(msg)
        except Exception:  # a progress display must never break the build
            pass

    def _handle(self, msg: Any) -> None:
        name = msg.info.name
        level = msg.info.level
        if name == "LogStartLine" and getattr(msg.data, "total", 0):
            self.total = int(msg.data.total)
        if level == "warn":
            self.warnings.append(msg.info.msg)
        elif level == "error":
            self.errors.append(msg.info.msg)
        if name == "NodeFinished":
            info = msg.data.node_info
            self.finished += 1
            if self.on_progress is not None:
                self.on_progress(
                    NodeProgress(
                        unique_id=info.unique_id,
                        name=info.node_name,
                        resource_type=info.resource_type,
                        status=info.node_status,
                        index=self.finished,
                        total=self.total,
                    )
                )


def _node_results(raw_result: Any) -> list[NodeResult]:
    results = getattr(raw_result, "results", None) or []
    nodes = []
    for item in results:
        node = getattr(item, "node", None)
        if node is None:
            continue
        status = getattr(item.status, "value", item.status)
        nodes.append(
            NodeResult(
                unique_id=node.unique_id,
                name=node.name,
                resource_type=str(getattr(node.resource_type, "value", node.resource_type)),
                status=str(status).lower(),
                execution_time=float(getattr(item, "execution_time", 0.0) or 0.0),
                message=getattr(item, "message", None),
                failures=getattr(item, "failures", None),
            )
        )
    return nodes


_frozen = threading.Event()


def _freeze_what_imports_made() -> None:
    """Once per process, after dbt is imported: every object alive now leaves the cyclic garbage
    collector's view (`gc.freeze`).

    Importing dbt leaves a large heap of objects (modules, classes, functions, their generated
    serialisers) that live as long as the process. The collections of the older generations, which a
    dbt run triggers while it parses and builds, walk all of them each time. Frozen, they are skipped
    (and still freed with the process); a collection walks only what came after. What is frozen is
    never collected: so only once, right after the imports, when what is alive is what the process
    keeps anyway.
    """
    if not _frozen.is_set():
        _frozen.set()
        gc.freeze()


def run_dbt(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    home: Path | None = None,
    on_progress: ProgressCallback | None = None,
    quiet: bool = True,
    write_manifest: bool = True,
    results_file: str = "run_results.json",
    silent: bool = False,
    node_seconds: Mapping[str, float] | None = None,
) -> DbtResult:
    """Invoke one dbt command (e.g. ["build", "--select", "marts"]) in-process and summarise it.

    `env` holds the connection (PG* variables, as `shop db env` prints them); it is set in os.environ
    for the run only. Paths: the project at the repository root, profiles/target/logs in SHOP_HOME/dbt.
    `write_manifest=False` skips target/manifest.json (dbt writes it twice per command, both times
    on the critical path); target/`results_file` is still written (run_results.json, or sources.json
    for `source freshness`). `node_seconds` (each node's time in an earlier run) makes dbt start ready
    nodes longest-path-first (shop/build_order.py) instead of shallowest-first.
    """
    with mashumaro_stubs.shared():
        # dbt's contracts are created as it is imported: their serialiser stubs are shared per kind.
        import dbt.adapters.postgres  # noqa: F401  (dbt imports it to run; here before the freeze below)
        from dbt.cli.main import dbtRunner
    _freeze_what_imports_made()

    base = dbt_home(home)
    profiles_dir = prepare_profiles_dir(home)
    target = base / "target"
    logs = base / "logs"
    command = [
        *args,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(profiles_dir),
        "--target-path",
        str(target),
        "--log-path",
        str(logs),
    ]
    global_flags = ["--quiet"] if quiet else []
    if silent:
        # Not even dbt's error lines on the console: the caller reports the outcome itself.
        global_flags += ["--log-level", "none"]
    if not write_manifest:
        # dbt has one switch for all its JSON artifacts; run_results.json is written below.
        global_flags.append("--no-write-json")
    values = {**DEFAULT_ENV, **dict(env)}
    collector = _EventCollector(on_progress)
    started = time.perf_counter()
    order = build_order.longest_path_first(node_seconds) if node_seconds is not None else nullcontext()
    # The memos read the environment the run sets: they come after it. Each dbt thread keeps its
    # connection between nodes (a new server backend per node otherwise).
    with (_RUN_LOCK, _environment(values), order, jinja_code_cache.kept(home), json_schema_cache.kept(home),
          parse_state_cache.kept(home), dbt_memo.reused(), dbt_connections.kept_per_thread()):
        outcome = dbtRunner(callbacks=[collector]).invoke([*global_flags, *command])
        if not write_manifest and hasattr(outcome.result, "write"):
            outcome.result.write(str(target / results_file))
    elapsed = time.perf_counter() - started
    nodes = _node_results(outcome.result)
    exception = None
    if outcome.exception is not None:
        exception = f"{type(outcome.exception).__name__}: {outcome.exception}"
    return DbtResult(
        command=["dbt", *command],
        success=bool(outcome.success),
        elapsed=elapsed,
        nodes=nodes,
        warnings=collector.warnings,
        errors=collector.errors,
        exception=exception,
        target_dir=target,
    )


def build(
    env: Mapping[str, str],
    *,
    full_refresh: bool = False,
    test_all: bool = False,
    select: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    extra_args: Sequence[str] = (),
    home: Path | None = None,
    on_progress: ProgressCallback | None = None,
) -> DbtResult:
    """`dbt build`: every model, then its tests and unit tests, in dependency order.

    A build of the whole project (no `select`) scopes its data tests to the rows loaded since the
    previous such build and, when it succeeds, records where it started (shop/build_marks.py).
    An incremental one runs the unit tests only when the project's code (or dbt, or the database)
    changed since they last passed under this home (shop/unit_test_gate.py). `test_all` keeps the
    incremental models incremental but runs every data test on every row, and the unit tests.
    A build writes target/run_results.json but not target/manifest.json: the live loop builds every
    30 s and nothing here reads the manifest (`dbt parse` or `shop serve docs` write it).
    """
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        # A test runs when every model it reads is selected or upstream of the selection: dbt's default
        # (eager) also runs a relationships test whose other side is a downstream model this build does
        # not write, which fails on a warehouse where that model was never built.
        args += ["--select", *select, "--indirect-selection", "buildable"]
    if exclude:
        args += ["--exclude", *exclude]
    args += list(extra_args)
    # One build, train or import at a time under a home: two dbt builds would race for the same
    # relations (`__dbt_backup` / `__dbt_tmp` names) and the same target/.
    # From the start: the unit test gate reads dbt's version, which already imports some of dbt's contracts.
    with home_lock.hold(settings_home(home), "build"), mashumaro_stubs.shared():
        return _build(args, env, select=select, full_refresh=full_refresh, test_all=test_all, home=home,
                      on_progress=on_progress)


def _build(args: list[str], env: Mapping[str, str], *, select: Sequence[str] | None, full_refresh: bool,
           test_all: bool, home: Path | None, on_progress: ProgressCallback | None) -> DbtResult:
    start = build_marks.begin(env) if not select else None
    if start is not None:
        # In the environment, not --vars: a var that changes every build makes dbt re-parse the project.
        # settled_before holds for the models this build writes: here every model (no --select).
        env = {**env, "SHOP_TEST_LOADED_AFTER": ("" if full_refresh else start.test_loaded_after()) or "",
               "SHOP_TEST_SETTLED_BEFORE": start.test_settled_before()}
    # Set either way, so that a value in the caller's environment never scopes or widens by accident.
    env = {**env, "SHOP_TEST_ALL_ROWS": "1" if test_all else ""}
    code = unit_test_gate.fingerprint({**os.environ, **env})
    unit_tests = full_refresh or test_all or bool(select) or unit_test_gate.needed(code, home)
    if not unit_tests:
        args = [*args, "--exclude-resource-type", "unit_test"]
    # An incremental build starts ready nodes longest-path-first, timed by the last incremental build
    # or else the last full one (neither: every node alike); a full refresh keeps dbt's order.
    node_seconds = None if full_refresh else build_order.previous_node_seconds(home)
    result = run_dbt(args, env, home=home, on_progress=on_progress, write_manifest=False, node_seconds=node_seconds)
    if result.success and result.unit_tests and not select:
        unit_test_gate.record(code, home)
    if select and result.success and not result.nodes and result.exception is None:
        raise NothingSelected(f"--select {' '.join(select)} matches no model, test or seed of the project: "
                              "nothing was built. See `dbt ls` for the names.")
    if result.target_dir is not None and result.nodes:
        _keep_build_results(result.target_dir, home)
    if start is not None and result.success:
        build_marks.record(env, start, full_refresh=full_refresh)
        # The times that order the next incremental build: not of one testing every row. A full build's
        # (the first build is one in all but name) serve only until an incremental build's are kept.
        if not test_all:
            build_order.keep_node_seconds(home, ((node.unique_id, node.execution_time) for node in result.nodes),
                                          full=full_refresh or start.previous is None)
    if result.success:
        ensure_semantic_manifest(env, home=home)
    return result


def source_freshness(env: Mapping[str, str], *, home: Path | None = None) -> DbtResult:
    """`dbt source freshness`: every source's newest load against its thresholds.

    The result (sources.json) is kept at SHOP_HOME/dbt/last_freshness/sources.json for the Data health
    page and the API. A stale source is a finding, not a failure of the command: `success` is False
    only when dbt could not check (a runtime error), not when a source is past its error threshold.
    """
    with home_lock.hold(settings_home(home), "source freshness"):
        result = run_dbt(["source", "freshness"], env, home=home, write_manifest=False, results_file="sources.json",
                         silent=True)
    if result.target_dir is not None and result.nodes:
        _keep(result.target_dir / "sources.json", last_freshness_path(home))
    checked = result.exception is None and all(node.status != "runtime error" for node in result.nodes)
    return replace(result, success=checked)


def freshness_summary(home: Path | None = None) -> list[tuple[str, str, str]]:
    """(source table, status, age) of the kept sources.json, for the CLI's table."""
    kept = read_sources(last_freshness_path(home))
    return [(source.source_table, source.status, _age(source.age_s)) for source in kept.sources]


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "no rows"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


# The files whose change can change the semantic manifest: the project file and every YAML of it.
def _project_fingerprint() -> str:
    files = [PROJECT_DIR / "dbt_project.yml", *sorted((PROJECT_DIR / "dbt_project").rglob("*.yml"))]
    digest = hashlib.sha256()
    for path in files:
        stat = path.stat()
        digest.update(f"{path}:{stat.st_mtime_ns}:{stat.st_size}\n".encode())
    return digest.hexdigest()


def ensure_semantic_manifest(env: Mapping[str, str], *, home: Path | None = None,
                             locked: bool = False) -> DbtResult | None:
    """Write target/semantic_manifest.json with `dbt parse` when the project's YAML changed since.

    Builds skip dbt's JSON artifacts (see `build`), semantic_manifest.json among them; the dashboard
    and `shop metrics` compile their queries from it. A parse only when a YAML file changed keeps the
    refresh loop's builds free of it. None when the manifest was already current. `locked` takes the
    home's work lock for the parse (a build, which already holds it, passes False).
    """
    manifest = semantic_manifest_path(home)
    stamp = manifest.with_suffix(".fingerprint")
    fingerprint = _project_fingerprint()
    if manifest.is_file() and stamp.is_file() and stamp.read_text(encoding="utf-8") == fingerprint:
        return None
    if locked:
        with home_lock.hold(settings_home(home), "dbt parse"):
            result = run_dbt(["parse"], env, home=home)
    else:
        result = run_dbt(["parse"], env, home=home)
    if result.success and manifest.is_file():
        stamp.write_text(fingerprint, encoding="utf-8")
    return result


def generate_docs(env: Mapping[str, str], *, home: Path | None = None) -> DbtResult:
    """`dbt docs generate`: writes index.html, manifest.json and catalog.json to SHOP_HOME/dbt/target
    (under the home's work lock: a build writes the same target/)."""
    with home_lock.hold(settings_home(home), "docs generate"):
        return run_dbt(["docs", "generate"], env, home=home)


def settings_home(home: Path | None) -> Path:
    """The SHOP_HOME a dbt run writes under: `home`, or the settings' one."""
    return Path(home) if home is not None else get_settings().home_dir
