"""The live demo's refresh loop: an incremental `shop build --freshness` every N seconds (the products
snapshot, the models and their tests, then each source's freshness), a retrain now and then.

One thread runs the jobs one after another, so a build never overlaps another build (or a
retrain): when a build takes longer than the interval, the next one starts when it ends. A failed
job is retried with a doubling back-off. Every attempt is recorded in `shop_meta.refresh_runs`
(the Data health page shows them), and after a successful build the anomaly checks' open alerts
(`monitoring.alerts`) in `shop_meta.alerts`, with when each was first and last seen. Jobs are `shop` subprocesses: a crash or a leak in one run
cannot take the demo down, and stopping one mid-way (Ctrl-C) rolls its transactions back.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from shopcore import db as shop_db
from shopcore import dbt_artifacts

MAX_RETRIES = 3
FIRST_BACKOFF_S = 5.0


@dataclass(frozen=True)
class JobOutcome:
    kind: str  # "build" or "train"
    attempt: int
    started_at: datetime
    finished_at: datetime
    succeeded: bool
    models: int | None = None
    data_tests: int | None = None
    failures: int | None = None
    message: str | None = None

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def describe(self) -> str:
        what = "refresh (dbt build)" if self.kind == "build" else "retrain"
        retry = f" (attempt {self.attempt})" if self.attempt > 1 else ""
        if not self.succeeded:
            return f"{what}{retry} FAILED after {self.seconds:.1f} s: {self.message}"
        counts = f": {self.models} models, {self.data_tests} tests" if self.kind == "build" else ""
        return f"{what}{retry} ok in {self.seconds:.1f} s{counts}"


def build_counts(home: Path) -> tuple[int, int, int]:
    """(models built, data tests passed, failed nodes) of the newest build's run_results.json."""
    run = dbt_artifacts.read_run_results(dbt_artifacts.last_build_results_path(home))
    return run.count("model", {"success"}), run.count("test", {"pass"}), run.failed


def record(info: shop_db.ConnectionInfo, outcome: JobOutcome) -> None:
    with shop_db.connect(info, autocommit=True) as conn:
        conn.execute(
            "insert into shop_meta.refresh_runs (kind, attempt, started_at, finished_at, succeeded, models, "
            "data_tests, failures, message) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (outcome.kind, outcome.attempt, outcome.started_at, outcome.finished_at, outcome.succeeded,
             outcome.models, outcome.data_tests, outcome.failures, outcome.message),
        )


def record_alerts(info: shop_db.ConnectionInfo) -> int:
    """Copy the open alerts of the build that just ran into shop_meta.alerts (new ones inserted, seen
    ones updated: an alert's window grows while its incident lasts); the number of new ones. Nothing
    when the checks are not built (a warehouse older than them)."""
    with shop_db.connect(info, autocommit=True) as conn:
        if conn.execute("select to_regclass('monitoring.alerts') is null").fetchone()[0]:
            return 0
        rows = conn.execute(
            """
            insert into shop_meta.alerts as seen
                (alert_id, kind, metric, window_start, window_end, score, evidence, first_seen_at, last_seen_at)
            select alert_id, kind, metric, window_start, window_end, score, evidence, now(), now()
            from monitoring.alerts
            where is_open
            on conflict (alert_id) do update set
                window_end = excluded.window_end, score = excluded.score, evidence = excluded.evidence,
                last_seen_at = excluded.last_seen_at
            returning (seen.first_seen_at = seen.last_seen_at) as is_new
            """
        ).fetchall()
    return sum(1 for (is_new,) in rows if is_new)


class RefreshLoop(threading.Thread):
    def __init__(
        self,
        *,
        info: shop_db.ConnectionInfo,
        home: Path,
        env: Mapping[str, str],
        log_path: Path,
        interval_s: float,
        retrain_every_s: float | None,
        on_outcome: Callable[[JobOutcome], None],
    ) -> None:
        super().__init__(name="refresh-loop", daemon=True)
        self.info, self.home, self.env, self.log_path = info, home, dict(env), log_path
        self.interval_s, self.retrain_every_s = interval_s, retrain_every_s
        self.on_outcome = on_outcome
        self.stopping = threading.Event()
        self.builds = 0
        self._current: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def run(self) -> None:
        next_build = time.monotonic() + self.interval_s
        next_train = time.monotonic() + self.retrain_every_s if self.retrain_every_s else None
        while not self.stopping.wait(max(0.0, next_build - time.monotonic())):
            started = time.monotonic()
            self._with_retries("build", [sys.executable, "-m", "shop", "build", "--freshness"])
            self.builds += 1
            if next_train is not None and time.monotonic() >= next_train and not self.stopping.is_set():
                self._with_retries("train", [sys.executable, "-m", "shop", "train", "--no-evaluate"])
                next_train = time.monotonic() + self.retrain_every_s
            # Every interval from the start of the last build, never two at once.
            next_build = max(started + self.interval_s, time.monotonic())

    def _with_retries(self, kind: str, argv: list[str]) -> None:
        backoff = FIRST_BACKOFF_S
        for attempt in range(1, MAX_RETRIES + 2):
            outcome = self._run(kind, argv, attempt)
            if outcome is None:  # stopped mid-way
                return
            try:
                record(self.info, outcome)
                if kind == "build" and outcome.succeeded:
                    record_alerts(self.info)
            except Exception as exc:  # noqa: BLE001 - the database may be down: say so, keep going
                outcome = JobOutcome(**{**outcome.__dict__, "message": f"{outcome.message or ''} "
                                                                       f"(not recorded: {exc})".strip()})
            self.on_outcome(outcome)
            if outcome.succeeded or self.stopping.wait(min(backoff, self.interval_s * 4)):
                return
            backoff *= 2

    def _run(self, kind: str, argv: list[str], attempt: int) -> JobOutcome | None:
        started = datetime.now(timezone.utc)
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- {started:%Y-%m-%d %H:%M:%S} UTC {kind} (attempt {attempt})\n".encode())
            log.flush()
            with self._lock:
                if self.stopping.is_set():
                    return None
                self._current = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                                 stdin=subprocess.DEVNULL, env=self.env, start_new_session=True)
            code = self._current.wait()
            with self._lock:
                self._current = None
        finished = datetime.now(timezone.utc)
        if self.stopping.is_set() and code != 0:
            return None
        models = tests = failures = None
        message = None
        if kind == "build":
            try:
                models, tests, failures = build_counts(self.home)
            except (OSError, ValueError, KeyError) as exc:
                message = f"no run results ({exc})"
        if code != 0:
            message = message or f"exit code {code}; see {self.log_path}"
        return JobOutcome(kind, attempt, started, finished, code == 0, models, tests, failures, message)

    def stop(self, timeout_s: float = 20.0) -> None:
        """Let a running job finish (up to ``timeout_s``), then interrupt it; no new job starts."""
        self.stopping.set()
        with self._lock:
            current = self._current
        if current is not None:
            try:
                current.wait(timeout_s)
            except subprocess.TimeoutExpired:
                current.send_signal(signal.SIGINT)
                try:
                    current.wait(15)
                except subprocess.TimeoutExpired:
                    current.kill()
        self.join(5)
