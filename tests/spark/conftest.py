"""The Spark tests run a real local Spark: they need Java 17+ and the `spark` extra (dbt-spark,
pyspark), both present where `make test` runs in CI. Without them they are skipped, saying why."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.spark import background

MIN_JAVA = 17
BUILD_KEY = pytest.StashKey[background.SparkBuild]()


def java_version() -> int | None:
    """Major version of the `java` Spark would start (JAVA_HOME first, then PATH); None if absent."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        shown = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', shown.stderr + shown.stdout)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def spark_missing_reason() -> str | None:
    for module in ("pyspark", "dbt.adapters.spark"):
        try:
            present = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            present = False
        if not present:
            return f"{module} is not installed: pip install -e '.[dev,spark]' (make test does)"
    version = java_version()
    if version is None:
        return f"no Java found (Spark needs Java {MIN_JAVA}+): install e.g. Debian's openjdk-{MIN_JAVA}-jre-headless"
    if version < MIN_JAVA:
        return f"Java {version} found, Spark 4 needs Java {MIN_JAVA}+"
    return None


@pytest.fixture(scope="session")
def spark_available() -> None:
    reason = spark_missing_reason()
    if reason:
        pytest.skip(reason)


@pytest.hookimpl(trylast=True)  # after -k / -m deselection: only for a session that runs the test
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the parity test's Spark build in the background now, and run the test last, so the
    build has the whole session's idle time (tests/spark/background.py says why)."""
    parity = [item for item in items if item.name == background.PARITY_TEST]
    if not parity or spark_missing_reason():
        return
    if hasattr(config, "workerinput"):
        # An xdist worker cannot know whether the test will be its own: the one that gets it
        # starts the build when the test asks (the `spark_build` fixture), so only one starts.
        return
    items[:] = [item for item in items if item.name != background.PARITY_TEST] + parity
    config.stash[BUILD_KEY] = background.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    build = config.stash.get(BUILD_KEY, None)
    if build is not None:
        build.stop()


@pytest.fixture()
def spark_build(request: pytest.FixtureRequest, spark_available) -> background.SparkBuild:
    """The session's background Spark build, or one started now when the session has none."""
    build = request.config.stash.get(BUILD_KEY, None)
    if build is None:
        build = request.config.stash[BUILD_KEY] = background.start(in_background=False)
    return build
