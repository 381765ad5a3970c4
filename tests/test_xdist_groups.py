"""The suite's grouping reaches pytest-xdist's scheduler: under `--dist loadgroup` (make test), a
test's xdist_group (tests/conftest.py) must be in its node id, where xdist's scheduler reads it.
Otherwise tests of one package or module are spread over the workers and every session-wide shop
is built on each (pytest 9.2 with pytest-xdist 3.8 did that without a word)."""

from __future__ import annotations

import pytest


def test_each_test_runs_in_its_group(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not on a pytest-xdist worker under --dist loadgroup")
    assert request.node.nodeid.endswith("@test_xdist_groups.py"), request.node.nodeid
