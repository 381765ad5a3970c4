"""How `shop serve api` prepares the ground for its workers (recommender/api/server.py)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from recommender.api.server import metrics_directory


def test_a_metrics_directory_of_ones_own_is_left_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = tmp_path / "metrics"
    own.mkdir()
    (own / "counter_1.db").write_bytes(b"kept")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(own))
    with metrics_directory(workers=4) as path:
        assert path == str(own)
    assert (own / "counter_1.db").read_bytes() == b"kept"
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(own)


def test_a_temporary_metrics_directory_goes_with_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    with pytest.raises(RuntimeError, match="stopped"), metrics_directory(workers=2) as path:
        assert path is not None and Path(path).parent == tmp_path
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == path
        (Path(path) / "counter_1.db").write_bytes(b"x")
        raise RuntimeError("serving stopped")  # however serving ends
    assert list(tmp_path.iterdir()) == []
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    with metrics_directory(workers=1) as path:  # one worker keeps its metrics in memory
        assert path is None and "PROMETHEUS_MULTIPROC_DIR" not in os.environ
