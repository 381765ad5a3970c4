"""What shop does to a dbt run's fixed cost: the Jinja code kept between runs (shop/jinja_code_cache.py),
reused only for the same source under the same environment, the work dbt repeats within a run done
once (shop/dbt_memo.py), and mashumaro's lazy stubs shared per kind of class as dbt is imported
(shop/mashumaro_stubs.py); what dbt renders, logs, reads and serialises is unchanged."""

from __future__ import annotations

import json
import marshal
from dataclasses import field, make_dataclass
from pathlib import Path
from typing import Any, Optional

import jinja2.parser
import pytest
from dbt_common.clients.jinja import get_template, render_template

from shop import dbt_memo, jinja_code_cache, json_schema_cache, mashumaro_stubs

SOURCE = "{% for x in [2, 1] %}{{ x * 21 }}{% endfor %} {{ 'a' | upper }}"


def _render(native: bool = False) -> object:
    return render_template(get_template(SOURCE, {}, native=native), {})


def test_a_kept_template_renders_as_compiled_and_is_not_compiled_again(tmp_path: Path, monkeypatch) -> None:
    with jinja_code_cache.kept(tmp_path):
        first = _render()
    assert first == "4221 A"
    _, entries = marshal.loads(jinja_code_cache.cache_path(tmp_path).read_bytes())
    assert len(entries) == 1

    def no_parse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a kept template was parsed again")

    with monkeypatch.context() as patched:
        patched.setattr(jinja2.parser.Parser, "parse", no_parse)
        with jinja_code_cache.kept(tmp_path):
            assert _render() == first
        # Outside, Jinja compiles as before.
        with pytest.raises(Exception, match="parsed again"):
            _render()


def test_another_environment_compiles_its_own_code(tmp_path: Path) -> None:
    with jinja_code_cache.kept(tmp_path):
        text = _render()
    with jinja_code_cache.kept(tmp_path):
        # dbt's native environment (another class and code generator) renders Python values.
        assert render_template(get_template("{{ x }}", {}, native=True), {"x": [1, 2]}) == [1, 2]
        assert render_template(get_template("{{ x }}", {}), {"x": [1, 2]}) == "[1, 2]"
        assert _render() == text
    _, entries = marshal.loads(jinja_code_cache.cache_path(tmp_path).read_bytes())
    assert len(entries) == 3


def test_a_broken_template_fails_as_before_and_is_not_kept(tmp_path: Path) -> None:
    with jinja_code_cache.kept(tmp_path), pytest.raises(Exception, match="endmacro|end of template"):
        get_template("{% macro broken() %}no end", {})
    assert not jinja_code_cache.cache_path(tmp_path).exists()


def test_a_file_of_other_versions_or_unreadable_is_ignored(tmp_path: Path) -> None:
    path = jinja_code_cache.cache_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(marshal.dumps(("another jinja", {b"k": compile("x = 1", "<t>", "exec")})))
    with jinja_code_cache.kept(tmp_path):
        assert _render() == "4221 A"
    versions, entries = marshal.loads(path.read_bytes())
    assert versions != "another jinja" and b"k" not in entries
    path.write_bytes(b"not marshal")
    with jinja_code_cache.kept(tmp_path):
        assert _render() == "4221 A"


def test_within_a_run_secrets_are_still_scrubbed_and_type_testers_are_shared(monkeypatch) -> None:
    from dbt_common.clients import agate_helper
    from dbt_common.events.functions import env_scrubber

    monkeypatch.setenv("DBT_ENV_SECRET_PASSWORD", "hunter2")
    with dbt_memo.reused():
        assert env_scrubber("password hunter2 in a log line") == "password ***** in a log line"
        assert agate_helper.build_type_tester(["a"], string_null_values=()) is agate_helper.build_type_tester(
            iter(["a"]), string_null_values=[])
        table = agate_helper.table_from_rows([("null", "1"), ("x", "")], ["a", "b"], text_only_columns=["a"])
        # A text-only column keeps the literal "null"; another column still reads "" as null.
        assert list(table.columns["a"]) == ["null", "x"] and list(table.columns["b"]) == [1, None]
    assert agate_helper.build_type_tester(["a"]) is not agate_helper.build_type_tester(["a"])


def _mashumaro_classes(prefixes: tuple[str, ...]) -> list[type]:
    from mashumaro.mixins.dict import DataClassDictMixin

    found, pending = [], list(DataClassDictMixin.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith(prefixes) and cls not in found:
            found.append(cls)
    return found


def _generator_calls(cls: type) -> list[tuple[str, dict[str, Any]]]:
    """The stubs mashumaro generates as `cls` is created: its mixins' builder parameters, as
    DataClassDictMixin.__init_subclass__ reads them."""
    calls = []
    for ancestor in cls.__mro__[-1:0:-1]:
        params = getattr(ancestor, f"_{ancestor.__name__}__mashumaro_builder_params", None)
        if params:
            calls += [("unpack", params["unpacker"]), ("pack", params["packer"])]
    return calls


def test_every_stub_dbt_shares_is_the_one_mashumaro_generates_for_that_class(monkeypatch) -> None:
    from importlib.metadata import version

    import dbt.adapters.postgres  # dbt's contracts and the adapter's, as a build imports them
    import dbt.cli.main  # noqa: F401
    from mashumaro.core.meta import mixin

    assert mashumaro_stubs.available(), (
        f"mashumaro {version('mashumaro')} is not a version whose stubs were compared: run this test against it "
        "and add it to mashumaro_stubs.CHECKED_VERSIONS when it passes")
    dict_mixin, code_builder, base_config = mashumaro_stubs._interfaces()
    kinds = mashumaro_stubs._Kinds(dict_mixin, code_builder, base_config)
    generated: list[dict[str, Any]] = []

    def record_only(builder: Any) -> None:
        generated.append({"text": builder.lines.as_text(), "globals": dict(builder.globals),
                          "locals": set(vars(builder))})

    monkeypatch.setattr(code_builder, "compile", record_only)
    groups: dict[tuple[Any, ...], list[tuple[type, dict[str, Any]]]] = {}
    for cls in _mashumaro_classes(("dbt",)):
        for role, params in _generator_calls(cls):
            coder = params.get("decoder" if role == "unpack" else "encoder")
            key = kinds.kind(cls, role, params.get("format_name", "dict"), params.get("dialect"), coder,
                             params.get("encoder_kwargs"))
            if key is None:
                continue
            generated.clear()
            (mixin.compile_mixin_unpacker if role == "unpack" else mixin.compile_mixin_packer)(cls, **params)
            assert len(generated) == 1
            groups.setdefault(key, []).append((cls, generated[0]))
    shared = 0
    for classes in groups.values():
        first_cls, first = classes[0]
        stub = mashumaro_stubs._reusable({"cls": first_cls, **first}, first_cls)
        assert stub is not None, first["text"]
        for cls, each in classes[1:]:
            assert each["text"] == stub.text, cls
            assert each["globals"].keys() == stub.globals.keys(), cls
            assert all(each["globals"][name] is value for name, value in stub.globals.items()), cls
            shared += 1
    # dbt's own contracts: a few hundred classes, four stubs each, nearly all shared.
    assert shared > 1000


def test_a_class_made_while_shared_serialises_as_mashumaro_makes_it() -> None:
    from dbt_common.dataclass_schema import dbtClassMixin
    from mashumaro.mixins import dict as dict_mixin

    def classes() -> tuple[type, type]:
        # Made with the types themselves: this module's annotations are strings a local class cannot resolve.
        inner = make_dataclass("Inner", [("name", str), ("tags", list[str], field(default_factory=list))],
                               bases=(dbtClassMixin,))
        outer = make_dataclass("Outer", [("inner", inner), ("size", Optional[int], None),  # noqa: UP045
                                         ("meta", dict[str, Any], field(default_factory=dict))],
                               bases=(dbtClassMixin,))
        return inner, outer

    original = dict_mixin.compile_mixin_unpacker
    with mashumaro_stubs.shared() as kinds, mashumaro_stubs.shared() as nested:
        assert nested is kinds is not None
        inner, outer = classes()
    assert dict_mixin.compile_mixin_unpacker is original
    # The first class of each kind had its stub generated; the second ran the kept one.
    assert {cls for cls, _ in kinds.reused} == {outer}
    _, plain_outer = classes()
    data = {"inner": {"name": "a", "tags": ["x"]}, "size": None, "meta": {"k": [1, 2]}}
    shared_value, plain_value = outer.from_dict(data), plain_outer.from_dict(data)
    assert shared_value.to_dict() == plain_value.to_dict() == data
    assert shared_value.to_dict(omit_none=True) == plain_value.to_dict(omit_none=True)
    assert outer.from_msgpack(plain_value.to_msgpack()).to_msgpack() == plain_value.to_msgpack()
    assert inner.from_dict({"name": "b"}) == inner(name="b")
    # Bad input fails alike.
    failures = []
    for cls in (outer, plain_outer):
        with pytest.raises(Exception) as failure:  # whatever mashumaro raises, both raise it
            cls.from_dict({"inner": {"tags": "x"}})
        failures.append((type(failure.value), str(failure.value)))
    assert failures[0] == failures[1]


def test_another_mashumaro_version_generates_every_stub_itself(monkeypatch) -> None:
    from mashumaro.mixins import dict as dict_mixin

    monkeypatch.setattr(mashumaro_stubs, "CHECKED_VERSIONS", frozenset({"0.0"}))
    original = dict_mixin.compile_mixin_packer
    with mashumaro_stubs.shared() as kinds:
        assert kinds is None and dict_mixin.compile_mixin_packer is original


def test_within_a_run_event_messages_are_the_ones_dbt_builds(monkeypatch) -> None:
    from dbt.adapters.events.types import SQLQuery
    from dbt.events.types import LogStartLine
    from dbt_common.events import base_types, event_manager, functions
    from dbt_common.events.base_types import EventLevel
    from dbt_common.events.types import Note

    monkeypatch.setattr(functions, "metadata_vars", {"team": "shop", "run": "nightly"})
    node_info = {"node_name": "orders", "unique_id": "model.shop.orders", "resource_type": "model",
                 "node_status": "started", "meta": {"owner": "x"}}
    events = [(Note(msg="a note"), None), (Note(msg="warned"), EventLevel.WARN),
              (SQLQuery(conn_name="master", sql="select 1", node_info=node_info), None),
              (LogStartLine(description="sql table model marts.orders", index=3, total=90, node_info=node_info),
               EventLevel.INFO)]
    with dbt_memo.reused():
        assert event_manager.msg_from_base_event is not base_types.msg_from_base_event
        built = [event_manager.msg_from_base_event(event, level=level) for event, level in events]
    assert event_manager.msg_from_base_event is base_types.msg_from_base_event
    for (event, level), message in zip(events, built, strict=True):
        expected = base_types.msg_from_base_event(event, level=level)
        assert abs(expected.info.ts.ToMicroseconds() - message.info.ts.ToMicroseconds()) < 60_000_000
        message.info.ts.CopyFrom(expected.info.ts)
        assert message == expected and message.info.extra == {"team": "shop", "run": "nightly"}


def _validation_error(cls: type, data: dict[str, Any]) -> str | None:
    from dbt_common.dataclass_schema import ValidationError

    try:
        cls.validate(data)
    except ValidationError as error:
        return str(error)
    return None


def test_a_kept_json_schema_is_dbts_own_and_validates_alike(tmp_path: Path, monkeypatch) -> None:
    from dbt.contracts.project import PackageConfig, ProjectFlags
    from dbt_common.dataclass_schema import dbtClassMixin

    cases = [(ProjectFlags, {"send_anonymous_usage_stats": False}), (ProjectFlags, {"send_anonymous_usage_stats": 3}),
             (ProjectFlags, {"partial_parse": "yes"}), (PackageConfig, {"packages": [{"local": "x"}]}),
             (PackageConfig, {"packages": [{"local": 1}]})]
    expected = [_validation_error(cls, data) for cls, data in cases]
    assert expected[0] is None and all(expected[1:3]) and expected[3] is None and expected[4]
    own = {cls: cls.json_schema() for cls in (ProjectFlags, PackageConfig)}
    with json_schema_cache.kept(tmp_path):
        assert {cls: cls.json_schema() for cls in own} == own
    stored = json.loads(json_schema_cache.cache_path(tmp_path).read_text(encoding="utf-8"))["schemas"]
    assert sorted(stored) == sorted(json_schema_cache.class_key(cls) for cls in own)

    def not_again(cls: type) -> None:
        raise AssertionError(f"{cls.__name__}'s schema was computed again")

    monkeypatch.setattr(dbtClassMixin, "json_schema", classmethod(not_again))
    with json_schema_cache.kept(tmp_path):
        assert [_validation_error(cls, data) for cls, data in cases] == expected
    path = json_schema_cache.cache_path(tmp_path)
    # A damaged entry (not a schema) is not handed to dbt: the schema is computed.
    versions = json.loads(path.read_text(encoding="utf-8"))["versions"]
    damaged = {**stored, json_schema_cache.class_key(ProjectFlags): 5}
    path.write_text(json.dumps({"versions": versions, "schemas": damaged}), encoding="utf-8")
    with json_schema_cache.kept(tmp_path), pytest.raises(AssertionError, match="computed again"):
        ProjectFlags.json_schema()
    # Another version's file is ignored (and the schema computed).
    path.write_text(json.dumps({"versions": "another dbt", "schemas": stored}), encoding="utf-8")
    with json_schema_cache.kept(tmp_path), pytest.raises(AssertionError, match="computed again"):
        ProjectFlags.json_schema()


def _flag_sources() -> list[str]:
    from dbt_common.behavior_flags import Behavior

    flags = [{"name": "unnamed_source", "default": False, "docs_url": ""},
             {"name": "named_source", "default": True, "docs_url": "", "source": "dbt.adapters.x"}]
    return [flag._behavior_change_event.flag_source for flag in Behavior(flags, {})._flags]


def test_within_a_run_a_behavior_flag_is_attributed_to_the_module_dbt_names() -> None:
    from dbt_common.behavior_flags import BehaviorFlagRendered

    original = BehaviorFlagRendered.__dict__["_default_source"]
    with dbt_memo.reused():
        assert BehaviorFlagRendered._default_source is dbt_memo._module_creating_flag
        within = _flag_sources()
    # Put back as it was: a static method (called on an instance, too).
    assert BehaviorFlagRendered.__dict__["_default_source"] is original and isinstance(original, staticmethod)
    assert within == _flag_sources() == [__name__, "dbt.adapters.x"]


def test_what_importing_dbt_left_is_frozen_once_per_process() -> None:
    import gc

    from shop import dbt_runner

    dbt_runner._freeze_what_imports_made()
    frozen = gc.get_freeze_count()
    assert frozen > 0 and dbt_runner._frozen.is_set()
    made_after = [[index] for index in range(1000)]
    dbt_runner._freeze_what_imports_made()
    # A later run freezes nothing more: what runs made stays collectable.
    assert gc.get_freeze_count() == frozen and len(made_after) == 1000
