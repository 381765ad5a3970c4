"""Work dbt repeats within one run on the same inputs, done once per run.

Two of dbt's helpers rebuild the same value thousands of times per build, a few tenths of a CPU second
of every refresh build's fixed cost:

- the log scrubber: every line dbt logs (each event is formatted for the console and for the file)
  scans the whole environment for `DBT_ENV_SECRET*` variables to hide their values. The environment
  is set before dbt starts and dbt does not change it, so the secrets are read once per run. They are
  still hidden in every line.
- the agate type tester of a query's result: each result (every introspection query, every
  incremental model's column list) builds a new tester, and with it new date parsers. A tester is
  a function of its arguments and holds no state between tables (dbt shares its default one across
  threads already), so one per set of arguments serves the run.

`reused` swaps both for the run and puts dbt's own back after. Without the helpers (another dbt),
dbt's own stay.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

log = logging.getLogger(__name__)


@contextmanager
def _swapped(owner: Any, name: str, replacement: Any) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextmanager
def reused() -> Iterator[None]:
    """While inside, dbt reads the environment's secrets once and builds each type tester once."""
    try:
        from dbt_common.clients import agate_helper
        from dbt_common.events import functions as event_functions
        from dbt_common.exceptions import base as exception_base
    except ImportError:
        yield
        return
    with ExitStack() as stack:
        if hasattr(event_functions, "env_secrets") and hasattr(exception_base, "SECRET_ENV_PREFIX"):
            prefix = exception_base.SECRET_ENV_PREFIX
            secrets = [value for key, value in os.environ.items() if key.startswith(prefix) and value.strip()]
            stack.enter_context(_swapped(event_functions, "env_secrets", lambda: list(secrets)))
        else:
            log.debug("dbt's log scrubber is not the one this was written for: it stays as it is")
        build_type_tester = getattr(agate_helper, "build_type_tester", None)
        if build_type_tester is not None:
            tester_for = functools.lru_cache(maxsize=256)(build_type_tester)

            def type_tester(text_columns: Iterable[str], string_null_values: Iterable[str] | None = ("null", "")) -> Any:
                nulls = None if string_null_values is None else tuple(string_null_values)
                return tester_for(tuple(text_columns), nulls)

            stack.enter_context(_swapped(agate_helper, "build_type_tester", type_tester))
        yield
