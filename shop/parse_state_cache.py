"""Keep the manifest dbt decodes from its partial-parse state, so the next command need not decode it again.

Every dbt command that parses starts by reading target/partial_parse.msgpack (the manifest of the
last parse) and decoding it into dbt's node classes with mashumaro (`Manifest.from_msgpack`). In a
fresh process that decoding first generates the decoders of some hundred classes, then runs them:
on the serial start of every refresh build, before the first node runs, while nothing else can.
The file changes only when the project is parsed again.

So while dbt runs, `kept` wraps `Manifest.from_msgpack`: the manifest decoded from the same bytes
(sha256), with the same decoder, under the same dbt, mashumaro and Python, is read back from a pickle
of it (SHOP_HOME/dbt/partial_parse.pickle) instead. The pickle is taken right after decoding, before
dbt changes anything in the manifest, and it keeps every field of it: the state is the one the decoder
made, and the manifest's own lock (which a pickle cannot hold) is made again as the decoder makes it
(`__post_deserialize__`). dbt then checks it against the project (`is_partial_parsable`) exactly as
it checks a decoded one. A pickle that cannot be read or written costs the decoding, never the build.

The pickle lives under SHOP_HOME/dbt beside dbt's own state, with the same trust as that directory:
its profile and the kept Jinja code (shop/jinja_code_cache.py) run from there too.
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shopcore.dbt_artifacts import dbt_home, keep_file

log = logging.getLogger(__name__)
# The distributions whose classes a decoded manifest holds or whose code decodes it.
_DISTRIBUTIONS = ("dbt-core", "dbt-common", "dbt-adapters", "dbt-postgres", "dbt-spark", "mashumaro", "msgpack")


def cache_path(home: Path | None) -> Path:
    return dbt_home(home) / "partial_parse.pickle"


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "-"

    return "|".join([*(f"{name}={installed(name)}" for name in _DISTRIBUTIONS), sys.version])


def _key(data: bytes, decoder: Any, versions: str) -> str:
    digest = hashlib.sha256(data)
    name = f"{getattr(decoder, '__module__', '')}.{getattr(decoder, '__qualname__', repr(decoder))}"
    digest.update(f"\0{name}\0{versions}".encode())
    return digest.hexdigest()


class _ManifestPickler(pickle.Pickler):
    """Pickles a manifest as its fields, without its lock (dbt's own `__reduce_ex__` leaves fields out)."""

    def __init__(self, file: io.BytesIO, manifest_class: type) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.manifest_class = manifest_class

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is self.manifest_class:
            state = {name: value for name, value in vars(obj).items() if name != "_lock"}
            return (object.__new__, (self.manifest_class,), state)
        return NotImplemented


def dumps(manifest: Any) -> bytes:
    buffer = io.BytesIO()
    _ManifestPickler(buffer, type(manifest)).dump(manifest)
    return buffer.getvalue()


def loads(data: bytes, manifest_class: type) -> Any:
    # Written by this module under SHOP_HOME/dbt (see the module docstring on trust).
    manifest = pickle.loads(data)
    if type(manifest) is not manifest_class:
        raise TypeError(f"not a {manifest_class.__name__}: {type(manifest).__name__}")
    return manifest_class.__post_deserialize__(manifest)


def _decoded(decode: Any, cls: type, data: bytes, decoder: Any) -> Any:
    """dbt's own decoding of its state (mashumaro's `from_msgpack`)."""
    return decode(cls, data, decoder=decoder) if decoder is not None else decode(cls, data)


def _read(path: Path, key: str, manifest_class: type) -> Any | None:
    try:
        with path.open("rb") as file:
            if file.readline().decode("ascii", "replace").strip() != key:
                return None
            return loads(file.read(), manifest_class)
    except FileNotFoundError:
        return None
    except Exception as error:  # noqa: BLE001 - a damaged pickle: dbt decodes its state as before
        log.debug("could not read the kept manifest at %s: %s", path, error)
        return None


def _write(path: Path, key: str, manifest: Any) -> None:
    try:
        keep_file(path, key.encode("ascii") + b"\n" + dumps(manifest))
    except Exception as error:  # noqa: BLE001 - an object that cannot be pickled, a full disk...
        log.debug("could not keep the decoded manifest at %s: %s", path, error)


@contextmanager
def kept(home: Path | None) -> Iterator[None]:
    """While inside, a manifest decoded from partial-parse bytes decoded before under `home` is read from
    its pickle; one decoded here is pickled for the next command."""
    try:
        from dbt.contracts.graph.manifest import Manifest
    except ImportError:
        yield
        return
    original = Manifest.__dict__.get("from_msgpack")
    if not isinstance(original, classmethod) or not callable(getattr(Manifest, "__post_deserialize__", None)):
        log.debug("dbt's Manifest is not the one this was written for: it decodes its state itself")
        yield
        return
    decode = original.__func__
    path = cache_path(home)
    versions = _versions()

    def from_msgpack(cls: type, data: bytes, decoder: Any = None, **kwargs: Any) -> Any:
        if cls is not Manifest or kwargs or not isinstance(data, bytes):
            return decode(cls, data, decoder=decoder, **kwargs) if decoder is not None else decode(cls, data, **kwargs)
        key = _key(data, decoder, versions)
        manifest = _read(path, key, Manifest)
        if manifest is None:
            manifest = _decoded(decode, cls, data, decoder)
            _write(path, key, manifest)
        return manifest

    wrapper = classmethod(from_msgpack)
    Manifest.from_msgpack = wrapper  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        # mashumaro's first call replaces its lazy stub with the decoder it generated: that one stays.
        if Manifest.__dict__.get("from_msgpack") is wrapper:
            Manifest.from_msgpack = original  # type: ignore[method-assign]
