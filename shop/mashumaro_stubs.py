"""Give dbt's serialisable classes their first-call stubs without generating each one's code at import.

dbt's contracts are a few hundred dataclasses with mashumaro's (de)serialisers (`to_dict`, `from_dict`,
`to_msgpack`, `from_msgpack`). dbt configures them for lazy compilation (dbt_common's `dbtMashConfig`):
as a class is created, mashumaro only attaches a stub per method that builds the real serialiser on
its first call. Yet each stub is itself generated, four per class: a code builder resolves the class's
type parameters, names the types, walks the class's ancestors and compiles the few lines; about a third
of importing dbt, in every process.

A lazy stub's text does not depend on the class: only on the format (dict or msgpack), the dialect,
the encoder or decoder and the class's mashumaro config (its flags and defaults). The class enters the
stub only as the name `cls`, which the stub's lines bind at module level. So while `shared` is active,
the first class of each such kind gets its stub from mashumaro's own generator, whose text and globals
are kept; every later class of the same kind runs the same compiled lines with its own `cls`. The stub
then behaves as mashumaro's would: on the first call it builds the real serialiser with mashumaro's
code builder, as before.

Classes whose config is not lazy, or which mashumaro configures in a way this was not checked for
(another encoder's arguments, a config that is not a class), go through mashumaro's generator as before,
and so does everything under a mashumaro version this was not checked against: tests/warehouse/
test_dbt_fixed_cost.py compares every stub dbt defines with the one mashumaro generates, and fails when
the version moves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import CodeType
from typing import Any

log = logging.getLogger(__name__)

# The mashumaro versions whose lazy stubs were compared class by class with the kept ones.
CHECKED_VERSIONS = frozenset({"3.14"})
# Mashumaro's generator compiles a stub under this file name (exec of a string): tracebacks stay the same.
_FILENAME = "<string>"


@dataclass(frozen=True)
class Stub:
    """A stub's lines as mashumaro generated them for one class, and the globals they run with."""

    text: str
    code: CodeType
    globals: dict[str, Any]


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mashumaro")
    except PackageNotFoundError:
        return None


def _interfaces() -> tuple[Any, Any, Any] | None:
    """mashumaro's dict mixin module, its code builder and base config, as this was written for."""
    try:
        from mashumaro.config import BaseConfig
        from mashumaro.core.meta.code.builder import CodeBuilder
        from mashumaro.mixins import dict as dict_mixin
    except ImportError:
        return None
    names = ("compile_mixin_packer", "compile_mixin_unpacker")
    if not all(callable(getattr(dict_mixin, name, None)) for name in names):
        return None
    if not callable(getattr(CodeBuilder, "compile", None)) or not hasattr(BaseConfig, "lazy_compilation"):
        return None
    return dict_mixin, CodeBuilder, BaseConfig


def available() -> bool:
    """Whether `shared` replaces mashumaro's stub generation here (a checked version, the same interfaces)."""
    return _version() in CHECKED_VERSIONS and _interfaces() is not None


class _Kinds:
    """The stubs kept per kind of class while `shared` is active, and the patch that keeps them."""

    def __init__(self, dict_mixin: Any, code_builder: Any, base_config: type) -> None:
        self.dict_mixin = dict_mixin
        self.code_builder = code_builder
        self.base_config = base_config
        self.original_compile = code_builder.compile
        self.original_packer = dict_mixin.compile_mixin_packer
        self.original_unpacker = dict_mixin.compile_mixin_unpacker
        self.stubs: dict[tuple[Any, ...], Stub | None] = {}
        self.captured: dict[tuple[Any, ...], tuple[dict[str, Any], type]] = {}
        self.capturing = threading.local()
        # (class, kind) of every stub run from a kept one: what the tests compare with mashumaro's own.
        self.reused: list[tuple[type, tuple[Any, ...]]] = []

    def patch(self) -> None:
        kinds = self

        def compile_recording(builder: Any) -> None:
            kinds.compile(builder)

        self.code_builder.compile = compile_recording
        self.dict_mixin.compile_mixin_packer = self.packer(self.original_packer)
        self.dict_mixin.compile_mixin_unpacker = self.unpacker(self.original_unpacker)

    def restore(self) -> None:
        self.dict_mixin.compile_mixin_packer = self.original_packer
        self.dict_mixin.compile_mixin_unpacker = self.original_unpacker
        self.code_builder.compile = self.original_compile

    def kind(self, cls: type, role: str, format_name: str, dialect: Any, coder: Any,
             encoder_kwargs: Any = None) -> tuple[Any, ...] | None:
        """What a lazy stub's text depends on, or None when this class's stub is not one kept here."""
        if encoder_kwargs:
            return None
        config = getattr(cls, "Config", self.base_config)
        if not isinstance(config, type) or not issubclass(config, self.base_config):
            return None  # mashumaro builds a config class per call: nothing to key on
        if getattr(config, "lazy_compilation", False) is not True:
            return None  # the real serialiser is generated now, and it depends on the fields
        try:
            key = (role, config, format_name, dialect, coder)
            hash(key)
        except TypeError:
            return None
        return key

    def compile(self, builder: Any) -> None:
        """CodeBuilder.compile while active: records the lines and globals a stub is generated with."""
        slot = getattr(self.capturing, "slot", None)
        if slot is not None and getattr(builder, "cls", None) is slot["cls"] and "text" not in slot:
            slot["text"] = builder.lines.as_text()
            slot["globals"] = dict(builder.globals)
            slot["locals"] = set(vars(builder))
        self.original_compile(builder)

    def generate(self, generator: Any, cls: type, key: tuple[Any, ...] | None, **params: Any) -> None:
        if key is None:
            generator(cls, **params)
            return
        if key in self.captured:
            # The second class of a kind: the first one's lines are checked and compiled once.
            self.stubs[key] = _reusable(*self.captured.pop(key))
        stub = self.stubs.get(key)
        if stub is not None:
            exec(stub.code, dict(stub.globals), {"cls": cls})  # noqa: S102 - mashumaro's own lines, as generated
            self.reused.append((cls, key))
            return
        slot: dict[str, Any] = {"cls": cls}
        previous = getattr(self.capturing, "slot", None)
        self.capturing.slot = slot
        try:
            generator(cls, **params)
        finally:
            self.capturing.slot = previous
        if key not in self.stubs and key not in self.captured:
            # Kept as lines for now: many kinds (a config class made per call) never see a second class.
            self.captured[key] = (slot, cls)

    def packer(self, generator: Any) -> Any:
        def compile_mixin_packer(cls: type, format_name: str = "dict", dialect: Any = None, encoder: Any = None,
                                 encoder_kwargs: Any = None) -> None:
            key = self.kind(cls, "pack", format_name, dialect, encoder, encoder_kwargs)
            self.generate(generator, cls, key, format_name=format_name, dialect=dialect, encoder=encoder,
                          encoder_kwargs=encoder_kwargs)

        return compile_mixin_packer

    def unpacker(self, generator: Any) -> Any:
        def compile_mixin_unpacker(cls: type, format_name: str = "dict", dialect: Any = None,
                                   decoder: Any = None) -> None:
            key = self.kind(cls, "unpack", format_name, dialect, decoder)
            self.generate(generator, cls, key, format_name=format_name, dialect=dialect, decoder=decoder)

        return compile_mixin_unpacker


def _reusable(slot: dict[str, Any], cls: type) -> Stub | None:
    """The captured stub, if another class can run it with only `cls` changed; else None (never reused).

    The lines must be a lazy stub (they hand over to the code builder on the first call), bind nothing of
    the builder but `cls` at module level, and hold nothing of this class among their globals."""
    text = slot.get("text")
    if text is None or "CodeBuilder(" not in text:
        return None
    code = compile(text, _FILENAME, "exec")
    borrowed = (set(code.co_names) & slot["locals"]) - {"cls"}
    if borrowed or any(value is cls for value in slot["globals"].values()):
        return None
    return Stub(text=text, code=code, globals=slot["globals"])


# The kinds of the `shared` block running now (blocks nest: the outermost one patches and restores).
_active: _Kinds | None = None
_depth = 0
_state_lock = threading.Lock()


@contextmanager
def shared() -> Iterator[_Kinds | None]:
    """While inside, classes created with a lazy mashumaro config get stubs kept per kind (see above)."""
    global _active, _depth
    with _state_lock:
        if _active is None:
            interfaces = _interfaces() if _version() in CHECKED_VERSIONS else None
            if interfaces is None:
                log.debug("mashumaro is not a version whose stubs were checked: it generates each one itself")
            else:
                _active = _Kinds(*interfaces)
                _active.patch()
        _depth += 1
        kinds = _active
    try:
        yield kinds
    finally:
        with _state_lock:
            _depth -= 1
            if _depth == 0 and _active is not None:
                _active.restore()
                _active = None
