"""The parity test's Spark build, started as the session begins and run at the lowest CPU priority.

Building the warehouse on a local Spark is the suite's longest single job, and it needs nothing the
other tests touch: Parquet files of its own and a Spark home of its own. So when the session has
the parity test to run, the build starts right after collection, niced to 19: it takes only the
cycles the other tests leave idle (they wait on servers, subprocesses and sockets much of the time)
and never slows them. The test waits for it where it stands; if it started nothing (run alone, or
the hook did not fire), the test starts the build itself, at normal priority, and waits the whole
time. Under pytest-xdist (make test) a worker cannot know at collection whether the test will be its
own, so the build always starts that way there, on the worker that runs the test.
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
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from tests.spark.loads import split_into_two_loads
from tests.support import REPO_ROOT, run_shop

# Accounts enough for about 8,000 events now that most visitors come once (issue 17's lifecycles).
SHOP = ("--users", "2000", "--products", "80", "--days", "20", "--seed", "7", "--end", "2025-11-30T00:00")
SECOND_LOAD_FROM = datetime(2025, 11, 26, tzinfo=timezone.utc)
PARITY_TEST = "test_every_table_built_on_spark_equals_the_postgresql_build"


@dataclass
class SparkBuild:
    """The Spark side of the parity test: its two loads, and the process building them."""

    workdir: Path
    first: pa.Table
    second: pa.Table
    process: subprocess.Popen
    log: Path

    @property
    def export(self) -> Path:
        return self.workdir / "spark-tables.pickle"

    def result(self, timeout: float) -> tuple[dict, dict]:
        """Wait for the build: (exported tables, timings). The build's failure is an assertion."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            output = self.log.read_text()  # before stop() removes the build's files
            self.stop()
            raise AssertionError(f"the Spark build took over {timeout:.0f} s:\n{output[-4000:]}") from None
        output = self.log.read_text()
        assert self.process.returncode == 0, f"Spark build failed:\n{output[-8000:]}"
        with open(self.export, "rb") as handle:
            tables = pickle.load(handle)
        timings = next(json.loads(line) for line in reversed(output.splitlines()) if line.startswith("{"))
        return tables, timings

    def stop(self) -> None:
        """End the build and its JVM (one process group), and remove its files."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _lowest_priority() -> None:
    os.nice(19)


def start(*, in_background: bool = True) -> SparkBuild:
    """Simulate the shop as Parquet, split its events into two loads, and start building them:
    at the lowest CPU priority when the build runs beside the session's other tests, at the normal
    one when a test is already waiting for it."""
    workdir = Path(tempfile.mkdtemp(prefix="shop-spark-parity-"))
    raw, late, home = workdir / "raw", workdir / "late", workdir / "spark-home"
    run_shop("simulate", *SHOP, "--format", "parquet", "--out", str(raw), env={"SHOP_HOME": str(workdir / "shop-home")})
    first, second = split_into_two_loads(raw, late, SECOND_LOAD_FROM)
    log = workdir / "spark-build.log"
    command = [
        sys.executable, "-m", "tests.spark.spark_build",
        "--home", str(home), "--raw", str(raw), "--late", str(late), "--export", str(workdir / "spark-tables.pickle"),
    ]
    with open(log, "w") as out:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env={**os.environ, "TZ": "UTC"}, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=_lowest_priority if in_background else None, process_group=0,
        )
    return SparkBuild(workdir, first, second, process, log)
