"""The manifest dbt decodes from its partial-parse state is kept as a pickle (shop/parse_state_cache.py):
the next command with the same bytes reads it instead of decoding, and gets the same manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
from dbt.artifacts.resources.types import NodeType
from dbt.contracts.graph.manifest import Manifest
from dbt.contracts.graph.nodes import Macro
from dbt.parser.manifest import extended_mashumaro_encoder, extended_mashumuro_decoder

from shop import parse_state_cache

PROJECT = """name: probe
version: '1.0.0'
profile: probe
config-version: 2
"""
PROFILE = """probe:
  target: pg
  outputs:
    pg: {type: postgres, host: localhost, port: 5432, user: probe, password: '', dbname: probe, schema: probe}
"""
MODEL = "{{ config(materialized='table') }}\nselect {{ answer() }} as answer from {{ source('raw', 'events') }}\n"
SCHEMA = """version: 2
sources:
  - name: raw
    tables: [{name: events}]
models:
  - name: answers
    columns: [{name: answer, data_tests: [not_null]}]
"""


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


def _forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Decoding the state raises (dbt itself would catch that and parse everything again): the calls are
    listed too."""
    calls: list[object] = []

    def decode(*args: object, **_kwargs: object) -> None:
        calls.append(args)
        raise AssertionError("the state was decoded again")

    monkeypatch.setattr(parse_state_cache, "_decoded", decode)
    return calls


def test_the_same_state_is_read_from_the_pickle_as_the_manifest_decoded_from_it(tmp_path: Path, monkeypatch) -> None:
    state = _state("answer", "other")
    with parse_state_cache.kept(tmp_path):
        first = _decode(state)
    assert parse_state_cache.cache_path(tmp_path).is_file()
    with monkeypatch.context() as patched:
        _forbid_decoding(patched)
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
        _forbid_decoding(patched)
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


def test_dbt_parses_partially_from_the_kept_manifest(tmp_path: Path, monkeypatch) -> None:
    """A real parse writes dbt's state; its manifest, kept, is what the next parse starts from: dbt
    accepts it for a partial parse (nothing changed) and ends with the same nodes."""
    from dbt.cli.main import dbtRunner

    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "macros").mkdir()
    (project / "dbt_project.yml").write_text(PROJECT)
    (project / "profiles.yml").write_text(PROFILE)
    (project / "models" / "answers.sql").write_text(MODEL)
    (project / "models" / "schema.yml").write_text(SCHEMA)
    (project / "macros" / "answer.sql").write_text("{% macro answer() %}42{% endmacro %}")
    target = tmp_path / "target"
    args = ["--quiet", "--log-level", "none", "parse", "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(target), "--log-path", str(tmp_path / "logs")]
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

    def parse() -> Manifest:
        with parse_state_cache.kept(tmp_path):
            outcome = dbtRunner().invoke(args)
        assert outcome.success, outcome.exception
        return outcome.result

    def nodes(manifest: Manifest) -> dict:
        return manifest.writable_manifest().to_dict()["nodes"]

    full = parse()  # no state yet: a full parse writes it
    with parse_state_cache.kept(tmp_path):
        _decode((target / "partial_parse.msgpack").read_bytes())  # as the next parse's start decodes it
    read = parse_state_cache._read
    kept: list[object] = []
    with monkeypatch.context() as patched:
        decoded = _forbid_decoding(patched)
        patched.setattr(parse_state_cache, "_read", lambda *args: kept.append(read(*args)) or kept[-1])
        partial = parse()
    assert decoded == [] and len(kept) == 1 and isinstance(kept[0], Manifest)
    assert len(full.nodes) == 2 and sorted(partial.nodes) == sorted(full.nodes)
    assert nodes(partial) == nodes(full)
