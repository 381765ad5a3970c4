"""Fixtures of tests/shop: throw-away SHOP_HOMEs whose embedded servers are always stopped."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shopcore import embedded
from tests.support import private_home


@pytest.fixture()
def make_home() -> Iterator[Callable[[str], Path]]:
    """make_home(name) -> a SHOP_HOME path (not created) under a private temp dir; any server
    started there is stopped and the tree removed afterwards."""
    roots: list[Path] = []
    homes: list[Path] = []

    def make(name: str = "home") -> Path:
        root = private_home()
        roots.append(root)
        home = root / name
        homes.append(home)
        return home

    yield make
    for home in homes:
        if embedded.status(home).running:
            embedded.stop(home)
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)
