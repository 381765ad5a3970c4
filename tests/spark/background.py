"""The parity test's Spark build, started as the session begins and run at the lowest CPU priority.

Building the warehouse on a local Spark is the suite's longest single job, and it needs nothing the
other tests touch: Parquet files of its own and a Spark home of its own. So when the session has
the parity test to run, the build (simulating the shop as Parquet, splitting its events into two
loads, building them) starts before the tests, niced to 19: it takes the cycles the other tests
leave idle (they wait on servers, subprocesses and sockets much of the time) and never slows them.

- Run in one process, the session starts it after collection and runs the test last.
- Under pytest-xdist (`make test`) the workers cannot know at collection which of them will run the
  test, so the controller starts it before the workers exist (`tests/conftest.py`) and names its
  directory in their environment (`WORKDIR_ENV`); the worker that runs the test attaches to it.
- When the test starts waiting, the build gets the normal priority back (where we may raise it: as
  root), so a test that comes early waits no longer than if it had started the build itself.
- Run alone (or if nothing started it), the test starts the build itself, at the normal priority.

The build process writes its loads under `loads/` and its exit status last, so any process can
wait for it, not only its parent.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.spark.loads import split_into_two_loads
from tests.support import REPO_ROOT, run_shop

# Accounts enough for about 8,000 events now that most visitors come once (issue 17's lifecycles).
SHOP = ("--users", "2000", "--products", "80", "--days", "20", "--seed", "7", "--end", "2025-11-30T00:00")
SECOND_LOAD_FROM = datetime(2025, 11, 26, tzinfo=timezone.utc)
PARITY_TEST = "test_every_table_built_on_spark_equals_the_postgresql_build"
WORKDIR_ENV = "SHOP_TEST_SPARK_PARITY_WORKDIR"
_LOADS = ("first", "second")


@dataclass
class SparkBuild:
    """The Spark side of the parity test: a directory, and the process group building in it."""

    workdir: Path
    pid: int  # the build's process, leader of its process group (the JVM is in it)
    process: subprocess.Popen | None = None  # None where we did not start it (an xdist worker)

    @property
    def log(self) -> Path:
        return self.workdir / "spark-build.log"

    @property
    def export(self) -> Path:
        return self.workdir / "spark-tables.pickle"

    @property
    def status(self) -> Path:
        return self.workdir / "exit-status"

    @property
    def loads_dir(self) -> Path:
        return self.workdir / "loads"

    def loads(self, timeout: float) -> tuple[pa.Table, pa.Table]:
        """The two loads the Spark build received, once it has written them: (first, second)."""
        self._wait_for(self.loads_dir / "ready", timeout, "writing its two loads")
        first, second = (pq.read_table(self.loads_dir / f"{name}.parquet") for name in _LOADS)
        return first, second

    def result(self, timeout: float) -> tuple[dict, dict]:
        """Wait for the build: (exported tables, timings). The build's failure is an assertion."""
        self._run_at_normal_priority()
        self._wait_for(self.status, timeout, "building")
        output = self.log.read_text()
        assert self.status.read_text().strip() == "0", f"Spark build failed:\n{output[-8000:]}"
        with open(self.export, "rb") as handle:
            tables = pickle.load(handle)
        timings = next(json.loads(line) for line in reversed(output.splitlines()) if line.startswith("{"))
        return tables, timings

    def stop(self) -> None:
        """End the build and its JVM (one process group), and remove its files."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.process is not None:
            self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _wait_for(self, marker: Path, timeout: float, doing: str) -> None:
        deadline = time.monotonic() + timeout
        while not marker.exists():
            if not self._running():
                if marker.exists():  # written just before it ended
                    return
                raise AssertionError(f"the Spark build ended while {doing}:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                output = self._log_tail()  # before stop() removes the build's files
                self.stop()
                raise AssertionError(f"the Spark build took over {timeout:.0f} s {doing}:\n{output}")
            time.sleep(0.5)

    def _running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        try:
            return psutil.Process(self.pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def _log_tail(self) -> str:
        try:
            return self.log.read_text()[-8000:]
        except OSError:
            return "(no log)"

    def _run_at_normal_priority(self) -> None:
        """Every thread of the build's processes back to nice 0 (Linux nice values are per thread;
        lowering one needs root, elsewhere the build keeps its low priority)."""
        try:
            leader = psutil.Process(self.pid)
            for process in [leader, *leader.children(recursive=True)]:
                for thread in process.threads():
                    os.setpriority(os.PRIO_PROCESS, thread.id, 0)
        except (psutil.Error, PermissionError, ProcessLookupError):
            pass


# The build's JVM lives a few minutes over a small shop: the quick compiler alone and the serial
# collector spend less CPU on it than the server defaults (the machine's other tests want that CPU).
_SHORT_LIVED_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# Spark settings for one short build over a few thousand rows, none of which changes what a query
# means: no metastore (the build's one process holds every table it makes), expressions evaluated
# rather than compiled to Java (compiling them costs more than running them on rows this few), and no
# re-planning between stages (adaptive execution only pays on data that outgrows its plan).
_SMALL_DATA_SPARK = {
    "SHOP_SPARK_CATALOG": "in-memory",
    "PYSPARK_SUBMIT_ARGS": (
        "--conf spark.sql.codegen.factoryMode=NO_CODEGEN"
        " --conf spark.sql.codegen.wholeStage=false"
        " --conf spark.sql.adaptive.enabled=false"
        " pyspark-shell"
    ),
}

BUILD_KEY = pytest.StashKey[SparkBuild]()  # the build this process started; stopped at the session's end


def start(*, in_background: bool = True) -> SparkBuild:
    """Start the build in a process group of its own: at the lowest CPU priority when it runs beside
    the session's other tests, at the normal one when a test is already waiting for it."""
    workdir = Path(tempfile.mkdtemp(prefix="shop-spark-parity-"))
    command = [sys.executable, "-m", "tests.spark.background", str(workdir)]
    with open(workdir / "spark-build.log", "w") as out:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT,
            env={**os.environ, **_SMALL_DATA_SPARK, "TZ": "UTC", "JAVA_TOOL_OPTIONS": _SHORT_LIVED_JVM},
            stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=_lowest_priority if in_background else None, process_group=0,
        )
    (workdir / "pid").write_text(str(process.pid))
    return SparkBuild(workdir, process.pid, process)


def attach(workdir: Path) -> SparkBuild:
    """The build another process of this session started in `workdir` (`start` wrote its pid there)."""
    return SparkBuild(workdir, int((workdir / "pid").read_text()))


def _lowest_priority() -> None:
    os.nice(19)


def _prepare_and_build(workdir: Path) -> None:
    """Simulate the shop as Parquet, split its events into two loads (kept under loads/ for the test),
    and build them on Spark (tests/spark/spark_build.py)."""
    from tests.spark import spark_build

    raw, late, home = workdir / "raw", workdir / "late", workdir / "spark-home"
    run_shop("simulate", *SHOP, "--format", "parquet", "--out", str(raw), env={"SHOP_HOME": str(workdir / "shop-home")})
    loads = split_into_two_loads(raw, late, SECOND_LOAD_FROM)
    (workdir / "loads").mkdir()
    for name, table in zip(_LOADS, loads, strict=True):
        pq.write_table(table, workdir / "loads" / f"{name}.parquet")
    (workdir / "loads" / "ready").touch()
    sys.stdout.flush()
    spark_build.main(["--home", str(home), "--raw", str(raw), "--late", str(late), "--export", str(workdir / "spark-tables.pickle")])


def main(workdir: Path) -> None:
    try:
        _prepare_and_build(workdir)
        code = 0
    except SystemExit as exited:  # spark_build exits with its failure's message
        print(exited.code, flush=True)
        code = 0 if exited.code in (0, None) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    (workdir / "exit-status").write_text(str(code))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
