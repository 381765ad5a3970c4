"""Per-user arrays computed a block of users at a time: each row depends only on its user, and
small blocks keep every temporary in cache instead of faulting in fresh memory for each one."""

from __future__ import annotations

from collections.abc import Iterator

USER_BLOCK = 1 << 14  # users per block


def user_blocks(n: int) -> Iterator[slice]:
    """Slices covering rows 0..n-1 in blocks of USER_BLOCK users."""
    for start in range(0, n, USER_BLOCK):
        yield slice(start, start + USER_BLOCK)
