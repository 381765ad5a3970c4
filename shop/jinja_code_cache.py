"""Keep the Python code Jinja compiles from dbt's templates between `shop` commands.

Every dbt command compiles, once per process, each macro it calls and each node's SQL from Jinja
source to Python code (dbt keeps the result in memory only), and on a refresh build that compiling
is a large share of the command's own CPU: the same few hundred templates, every build. Jinja's
standard answer for templates loaded by name is its bytecode cache (`jinja2.BytecodeCache`: the
marshalled code object, keyed by the source); dbt builds its templates from strings
(`Environment.from_string`), which that cache does not serve. So while dbt runs, `kept` wraps
`Environment.compile`: the code for a source already compiled under the same Jinja, dbt, Python and
environment settings is read from SHOP_HOME/dbt/jinja_code.marshal instead of being compiled again.

Jinja's compiler is a function of the source and of the environment's settings (its class, parser and
code generator, extensions, lexer strings, the filters' and tests' names and how they take their
context, finalize, async, optimized), and all of them are in an entry's key; the versions are in the
file's header (another version: the file starts empty). The code for a source is therefore the code
Jinja would compile, and what dbt renders is unchanged. A template that fails to compile is never
kept (the error is raised as before), and dbt's macro debugging (DBT_MACRO_DEBUGGING, which writes
each compiled template's Python for tracebacks) bypasses the cache.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import marshal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import CodeType
from typing import Any

from shopcore.dbt_artifacts import dbt_home, keep_file

# Past this many entries a run keeps only the ones it used (a project edited often would grow it).
MAX_ENTRIES = 5000
log = logging.getLogger(__name__)


def cache_path(home: Path | None) -> Path:
    return dbt_home(home) / "jinja_code.marshal"


def _versions() -> str:
    from importlib.metadata import version

    import jinja2

    return "|".join((jinja2.__version__, version("dbt-core"), version("dbt-common"), sys.version,
                     importlib.util.MAGIC_NUMBER.hex()))


def _read(path: Path, versions: str) -> dict[bytes, CodeType]:
    try:
        stored = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    if not isinstance(stored, tuple) or len(stored) != 2 or stored[0] != versions or not isinstance(stored[1], dict):
        return {}
    return stored[1]


def _write(path: Path, versions: str, entries: dict[bytes, CodeType]) -> None:
    keep_file(path, marshal.dumps((versions, entries)))


def _callable_name(func: Any) -> str:
    return f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', type(func).__qualname__)}"


@functools.lru_cache(maxsize=1024)
def _describe(func: Any) -> tuple[str, str]:
    """A filter's or test's name in its module and how Jinja passes it the context (the code differs)."""
    from jinja2.utils import _PassArg

    return _callable_name(func), str(_PassArg.from_obj(func))


def _description(func: Any) -> tuple[str, str]:
    try:
        return _describe(func)
    except TypeError:  # an unhashable callable: described every time
        return _describe.__wrapped__(func)


def environment_key(env: Any) -> str:
    """Everything of an environment that Jinja's lexer, parser, optimizer or code generator reads."""
    from jinja2.utils import _PassArg

    def named(functions: dict[str, Any]) -> list[tuple[str, tuple[str, str]]]:
        return sorted((name, _description(func)) for name, func in functions.items())

    settings = (
        _callable_name(type(env)), _callable_name(env.code_generator_class), _callable_name(env.context_class),
        sorted(env.extensions), env.block_start_string, env.block_end_string, env.variable_start_string,
        env.variable_end_string, env.comment_start_string, env.comment_end_string, env.line_statement_prefix,
        env.line_comment_prefix, env.trim_blocks, env.lstrip_blocks, env.newline_sequence,
        env.keep_trailing_newline, env.optimized, env.is_async, repr(env.autoescape),
        _callable_name(env.finalize) if env.finalize else None, str(_PassArg.from_obj(env.finalize)),
        named(env.filters), named(env.tests),
    )
    return repr(settings)


@contextmanager
def kept(home: Path | None) -> Iterator[None]:
    """While inside, Jinja reuses the code kept under `home` for a source it compiled before; on
    leaving, the code compiled inside is added to the file (written atomically)."""
    try:
        import jinja2
        from dbt_common.clients import jinja as dbt_jinja
    except ImportError:
        yield
        return
    versions = _versions()
    path = cache_path(home)
    stored = _read(path, versions)
    added: dict[bytes, CodeType] = {}
    used: set[bytes] = set()
    lock = threading.Lock()
    original = jinja2.Environment.compile

    def compile_once(self: Any, source: Any, name: str | None = None, filename: str | None = None,
                     raw: bool = False, defer_init: bool = False) -> Any:
        if raw or not isinstance(source, str) or dbt_jinja.MACRO_DEBUGGING:
            return original(self, source, name, filename, raw, defer_init)
        digest = hashlib.blake2b(digest_size=20)
        digest.update(repr((environment_key(self), name, filename, defer_init)).encode())
        digest.update(b"\0")
        digest.update(source.encode("utf-8", "surrogatepass"))
        key = digest.digest()
        code = stored.get(key) or added.get(key)
        if code is None:
            code = original(self, source, name, filename, raw, defer_init)
            with lock:
                added[key] = code
        with lock:
            used.add(key)
        return code

    jinja2.Environment.compile = compile_once  # type: ignore[method-assign]
    try:
        yield
    finally:
        jinja2.Environment.compile = original  # type: ignore[method-assign]
        if added:
            entries = {**stored, **added}
            if len(entries) > MAX_ENTRIES:
                entries = {key: code for key, code in entries.items() if key in used}
            try:
                _write(path, versions, entries)
            except OSError as error:  # a cache that cannot be written costs time, never the build
                log.debug("could not keep Jinja's compiled code at %s: %s", path, error)
