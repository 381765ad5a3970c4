"""The Spark tests run a real local Spark: they need Java 17+ and the `spark` extra (dbt-spark,
pyspark), both present where `make test` runs in CI. Without them they are skipped, saying why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.spark import background
from tests.spark.availability import spark_missing_reason

@pytest.fixture(scope="session")
def spark_available() -> None:
    reason = spark_missing_reason()
    if reason:
        pytest.skip(reason)


@pytest.hookimpl(trylast=True)  # after -k / -m deselection: only for a session that runs the test
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In one process: start the parity test's Spark build in the background now, and run the test
    last, so the build has the whole session's idle time (tests/spark/background.py says why)."""
    parity = [item for item in items if item.name == background.PARITY_TEST]
    if not parity or spark_missing_reason():
        return
    if hasattr(config, "workerinput"):
        # An xdist worker cannot know whether the test will be its own: the controller started the
        # build before the workers (tests/conftest.py), or the test starts it.
        return
    items[:] = [item for item in items if item.name != background.PARITY_TEST] + parity
    config.stash[background.BUILD_KEY] = background.start()


@pytest.fixture()
def spark_build(request: pytest.FixtureRequest, spark_available) -> background.SparkBuild:
    """The session's background Spark build (this process's, or the xdist controller's), or one
    started now when the session has none."""
    build = request.config.stash.get(background.BUILD_KEY, None)
    if build is None:
        started_by_controller = os.environ.get(background.WORKDIR_ENV)
        if started_by_controller:
            return background.attach(Path(started_by_controller))  # the controller stops it
        build = request.config.stash[background.BUILD_KEY] = background.start(in_background=False)
    return build
