"""What shop does to a dbt run's fixed cost: the Jinja code kept between runs (shop/jinja_code_cache.py),
reused only for the same source under the same environment, and the work dbt repeats within a run done
once (shop/dbt_memo.py); what dbt renders, logs and reads is unchanged."""

from __future__ import annotations

import marshal
from pathlib import Path

import jinja2.parser
import pytest
from dbt_common.clients.jinja import get_template, render_template

from shop import dbt_memo, jinja_code_cache

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
