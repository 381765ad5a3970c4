"""Ordinary memory pages for the world build's many large temporaries.

numpy asks the kernel for transparent huge pages on every large array it allocates
(``madvise``). Where the kernel honours that at the fault (its ``madvise`` mode, a common
default), each fresh temporary waits for the kernel to find whole huge pages (compacting memory
when it is fragmented) and to clear them. The world build's arrays are used once each and soon
freed, so huge pages save too few TLB misses to pay for that: on the project's machine the
build spent less system time, and less in all, without them, with the same values. The switch
is numpy's own (what the ``NUMPY_MADVISE_HUGEPAGE=0`` environment variable sets at import),
changed for the block and restored after it; numpy versions without it are left as they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator


def _switch() -> Callable[[bool], bool] | None:
    """numpy's setter of the huge-page advice (it returns the previous setting), if any."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    return getattr(multiarray, "_set_madvise_hugepage", None)


@contextlib.contextmanager
def ordinary_pages() -> Iterator[None]:
    """Allocate the block's new arrays without asking for huge pages; restore the setting."""
    switch = _switch()
    if switch is None:
        yield
        return
    previous = switch(False)
    try:
        yield
    finally:
        switch(previous)
