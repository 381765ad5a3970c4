"""Identities derived from a source's own values, the same on every run (RFC 4122 name-based ids).

An event without an id of its own gets uuid5(namespace of its format, its row's values): importing
the same file twice derives the same ids, and the import's anti-join skips them. Shops' user and
product keys that are not integers (Shopify's e-mail addresses and SKUs) become stable 63-bit integers.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/shop-analytics/import")

_HEX = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX[_c] = 10 + _i


def namespace(name: str) -> uuid.UUID:
    """The namespace of one kind of id ("rees46 event", "shopify order", ...)."""
    return uuid.uuid5(NAMESPACE, name)


def uuid5_many(space: uuid.UUID, names: Sequence[bytes]) -> np.ndarray:
    """uuid5(space, name) for each name, as an (n, 16) uint8 array (what uuid.uuid5 computes)."""
    prefix = hashlib.sha1(space.bytes)
    out = bytearray()
    for name in names:
        h = prefix.copy()
        h.update(name)
        out += h.digest()[:16]
    ids = np.frombuffer(bytes(out), dtype=np.uint8).reshape(-1, 16).copy()
    ids[:, 6] = (ids[:, 6] & 0x0F) | 0x50  # version 5
    ids[:, 8] = (ids[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    return ids


def row_names(columns: Sequence[pa.Array]) -> list[bytes]:
    """Each row's values joined by a unit separator (NULL as empty): the name its uuid5 is made of."""
    strings = [pc.fill_null(pc.cast(c, pa.string()), "") for c in columns]
    joined = pc.binary_join_element_wise(*strings, "\x1f")
    return pc.cast(joined, pa.binary()).to_pylist()


def parse_uuids(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Text uuids (with or without hyphens, any case) -> ((n, 16) uint8, valid mask). Vectorised."""
    n = len(values)
    text = pc.replace_substring(pc.utf8_trim_whitespace(pc.cast(values, pa.string())), "-", "")
    ok = pc.fill_null(pc.equal(pc.binary_length(text), 32), False).to_numpy(zero_copy_only=False)
    if n == 0:
        return np.empty((0, 16), dtype=np.uint8), ok
    padded = pc.cast(pc.if_else(pa.array(ok), text, "0" * 32), pa.binary())
    if isinstance(padded, pa.ChunkedArray):
        padded = padded.combine_chunks()
    # Every value is 32 bytes now, so the values buffer is one (n, 32) block.
    offsets = np.frombuffer(padded.buffers()[1], dtype=np.int32)[padded.offset : padded.offset + n + 1]
    raw = np.frombuffer(padded.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    nibbles = _HEX[raw.reshape(n, 32)]
    ok = ok & (nibbles != 255).all(axis=1)
    nibbles = np.where(nibbles == 255, 0, nibbles)
    out = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    return out.astype(np.uint8), ok


def stable_int64(space: uuid.UUID, names: Sequence[bytes]) -> np.ndarray:
    """A stable positive 63-bit integer per name (the first 8 bytes of its uuid5)."""
    ids = uuid5_many(space, names)
    return (ids[:, :8].copy().view(">u8").ravel() >> np.uint64(1)).astype(np.int64)
