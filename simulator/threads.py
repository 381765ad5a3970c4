"""One BLAS thread for the simulator's matrix products.

They are small (a day's sessions by the taste clusters, users by categories): waking BLAS
threads costs more than they save, and their spinning afterwards takes the second core that the
database needs while a load streams into it.
"""

from __future__ import annotations

import contextlib
from functools import cache

from threadpoolctl import ThreadpoolController


@cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()  # inspects the loaded libraries once


def one_blas_thread() -> contextlib.AbstractContextManager:
    return _controller().limit(limits=1, user_api="blas")
