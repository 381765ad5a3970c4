"""Fewer fresh pages for the world build's short-lived arrays.

Building a world allocates and frees many large temporaries (a column or a table per user).
Two defaults make each of them cost kernel time as well as its own work:

* glibc hands a large block back to the kernel when it is freed and maps a new one for the
  next: every page of it is faulted in and zeroed again;
* numpy asks for transparent huge pages for every large array, and on a machine whose memory is
  fragmented (a page cache full of a database's files) the kernel compacts memory to find them
  before the fault returns.

While a world is built, ``fewer_fresh_pages`` keeps freed blocks in the process for reuse and
asks for no huge pages; numpy's setting is restored afterwards, so arrays made later (the event
loop's) are allocated as before. (Copying the per-user tables the day loop reads into huge
pages was tried: it cost the world build more than it saved the days.) glibc's thresholds stay
for the rest of the process: a block freed later is still reused rather than mapped again, and
free memory above ``_KEEP_FREE_BYTES`` at the heap's top is returned to the kernel as before.
Elsewhere than glibc on Linux only numpy's setting changes.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys
from collections.abc import Iterator
from functools import cache

try:  # numpy 2; numpy 1.26 (which pyproject.toml allows) has it as numpy.core
    from numpy._core import multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray

# mallopt's parameters (malloc.h): trim threshold and mmap threshold.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Blocks up to this size come from the heap: a world's largest per-user table is a few tens of
# MB at half a million users.
_HEAP_BLOCK_BYTES = 256 << 20
# Free memory at the heap's top is returned to the kernel beyond this.
_KEEP_FREE_BYTES = 512 << 20


@cache
def _keep_freed_blocks() -> None:
    """Raise glibc's thresholds once per process (idempotent; nothing elsewhere than glibc)."""
    if not sys.platform.startswith("linux"):
        return
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    mallopt(_M_MMAP_THRESHOLD, _HEAP_BLOCK_BYTES)
    mallopt(_M_TRIM_THRESHOLD, _KEEP_FREE_BYTES)


@contextlib.contextmanager
def fewer_fresh_pages() -> Iterator[None]:
    """Inside: freed blocks are reused and numpy asks for no huge pages (restored after)."""
    _keep_freed_blocks()
    set_hugepage = getattr(multiarray, "_set_madvise_hugepage", None)  # numpy's private switch: may go
    if set_hugepage is None:
        yield
        return
    previous = set_hugepage(False)
    try:
        yield
    finally:
        set_hugepage(previous)
