"""Random RFC 4122 version-4 UUIDs drawn from a seeded generator, as raw 16-byte rows.

Drawing them from the simulation's own generator (not ``uuid.uuid4``) keeps runs reproducible;
keeping them as an (n, 16) uint8 array lets the binary COPY encoder write them without Python.
"""

from __future__ import annotations

import uuid

import numpy as np


def uuid4_bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random version-4 UUIDs as an (n, 16) uint8 array."""
    # The bit generator's raw 64-bit words: several times faster than ``rng.bytes``.
    out = rng.bit_generator.random_raw(2 * n).view(np.uint8).reshape(n, 16)
    out[:, 6] = (out[:, 6] & 0x0F) | 0x40  # version 4
    out[:, 8] = (out[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    return out


def as_uuids(rows: np.ndarray) -> list[uuid.UUID]:
    """Python UUID objects of (n, 16) byte rows (for tests and debugging, not hot paths)."""
    return [uuid.UUID(bytes=bytes(row)) for row in rows]
