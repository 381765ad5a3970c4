"""The manifest dbt decodes from its partial-parse state is kept as a pickle (shop/parse_state_cache.py):
the next command with the same bytes reads it instead of decoding, and gets the same manifest (a real
project's state: tests/shop/test_dbt_connections.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dbt.artifacts.resources.types import NodeType
from dbt.contracts.graph.manifest import Manifest
from dbt.contracts.graph.nodes import Macro
from dbt.parser.manifest import extended_mashumaro_encoder, extended_mashumuro_decoder

from shop import parse_state_cache
from tests.shop.support import forbid_decoding


def _state(*names: str) -> bytes:
    macros = {
        f"macro.probe.{name}": Macro(name=name, resource_type=NodeType.Macro, package_name="probe",
                                     path=f"macros/{name}.sql", original_file_path=f"macros/{name}.sql",
                                     unique_id=f"macro.probe.{name}", macro_sql=f"{{% macro {name}() %}}1{{% endmacro %}}")
        for name in names
    }
    return Manifest(macros=macros).to_msgpack(extended_mashumaro_encoder)


def _decode(data: bytes) -> Manifest:
    return Manifest.from_msgpack(data, decoder=extended_mashumuro_decoder)


def test_the_same_state_is_read_from_the_pickle_as_the_manifest_decoded_from_it(tmp_path: Path, monkeypatch) -> None:
    state = _state("answer", "other")
    with parse_state_cache.kept(tmp_path):
        first = _decode(state)
    assert parse_state_cache.cache_path(tmp_path).is_file()
    with monkeypatch.context() as patched:
        forbid_decoding(patched)
        with parse_state_cache.kept(tmp_path):
            kept = _decode(state)
            again = _decode(state)
    assert kept is not first and kept is not again  # each read is a manifest of its own for dbt to change
    assert kept.to_msgpack(extended_mashumaro_encoder) == first.to_msgpack(extended_mashumaro_encoder)
    assert sorted(kept.macros) == ["macro.probe.answer", "macro.probe.other"]
    with kept._lock:  # made again as the decoder makes it
        pass
    # Outside, and for other bytes, dbt decodes as before.
    assert Manifest.__dict__["from_msgpack"].__func__.__module__ != parse_state_cache.__name__
    with monkeypatch.context() as patched:
        forbid_decoding(patched)
        with parse_state_cache.kept(tmp_path), pytest.raises(AssertionError, match="decoded again"):
            _decode(_state("answer"))


def test_a_damaged_or_foreign_pickle_is_decoded_again_and_replaced(tmp_path: Path) -> None:
    state = _state("answer")
    path = parse_state_cache.cache_path(tmp_path)
    path.parent.mkdir(parents=True)
    for damaged in (b"", b"not a key\n", b"x" * 64 + b"\ngarbage"):
        path.write_bytes(damaged)
        with parse_state_cache.kept(tmp_path):
            assert sorted(_decode(state).macros) == ["macro.probe.answer"]
        assert path.read_bytes() != damaged
    # A pickle of the right key that is not a manifest is not returned.
    key = path.read_bytes().split(b"\n", 1)[0]
    path.write_bytes(key + b"\n" + parse_state_cache.pickle.dumps({"not": "a manifest"}))
    with parse_state_cache.kept(tmp_path):
        assert sorted(_decode(state).macros) == ["macro.probe.answer"]
