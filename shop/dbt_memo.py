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

One value dbt computes by reading the source of every frame on the stack:

- an adapter's behavior flag without a `source` is attributed to the module that created it, the
  first module on the call stack other than dbt's behavior-flag module. dbt finds it with
  `inspect.stack()`, which first describes every frame of the stack (its file, module and source
  lines, read from disk) and is evaluated for every flag, whether the flag names its source or not.
  Here the frames are looked at from the innermost outwards, each mapped to its module the same way
  (`inspect.getmodule`), and the walk stops at the first other module: the same name.

And one conversion dbt does per event in the general way:

- each event (about one per SQL statement, node start and finish, log line) is wrapped in a message
  whose header (level, text, invocation id, time stamp, process, thread, code, name) dbt builds as a
  dict and converts with protobuf's JSON-format parser. The header's fields are plain strings, one
  integer, a string map and a time stamp, so they are set directly: the same message (the time stamp
  through the same `FromJsonString` the parser calls), at a third of the cost. A header of another
  shape (another dbt-common), or a value of a type the parser would treat otherwise, goes through
  dbt's own conversion.

`reused` swaps them for the run and puts dbt's own back after. Without the helpers (another dbt),
dbt's own stay.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import sys
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
    """While inside, dbt reads the environment's secrets once, builds each type tester once, sets
    each event's header directly and finds a behavior flag's module without describing the whole stack."""
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
        _direct_event_headers(stack)
        _flag_source_without_stack(stack)
        yield


# The header fields dbt's msg_from_base_event fills, and the protobuf types they have (string, int32,
# message, repeated/map): another shape and the header is built by dbt's own code.
_HEADER_FIELDS = {"name": 9, "code": 9, "msg": 9, "level": 9, "invocation_id": 9, "pid": 5, "thread": 9,
                  "ts": 11, "extra": 11, "category": 9}


def _direct_event_headers(stack: ExitStack) -> None:
    try:
        from dbt_common.events import base_types, event_manager, types_pb2
    except ImportError:
        return
    original = getattr(event_manager, "msg_from_base_event", None)
    info = getattr(types_pb2, "EventInfo", None)
    if original is None or original is not getattr(base_types, "msg_from_base_event", None) or info is None:
        log.debug("dbt's event messages are not built as this was written for: dbt builds them")
        return
    if {field.name: field.type for field in info.DESCRIPTOR.fields} != _HEADER_FIELDS:
        log.debug("dbt's event header has another shape: dbt builds it")
        return
    stack.enter_context(_swapped(event_manager, "msg_from_base_event", _event_message_builder(base_types, original)))


def _event_message_builder(base_types: Any, original: Any) -> Any:
    def msg_from_base_event(event: Any, level: Any = None) -> Any:
        """dbt's msg_from_base_event, with the header's fields set instead of parsed from a dict."""
        msg_level = level.value if level else event.level_tag().value
        strings = (msg_level, event.message(), base_types.get_invocation_id(), base_types.get_thread_name(),
                   event.code(), type(event).__name__)
        extra = base_types.get_global_metadata_vars()
        pid = base_types.get_pid()
        if (not all(type(value) is str for value in strings) or type(pid) is not int or type(extra) is not dict
                or not all(type(key) is str and type(value) is str for key, value in extra.items())):
            return original(event, level=level)
        message = getattr(event.PROTO_TYPES_MODULE, f"{type(event).__name__}Msg")()
        header = message.info
        header.level, header.msg, header.invocation_id, header.thread, header.code, header.name = strings
        header.extra.update(extra)
        header.ts.FromJsonString(base_types.get_json_string_utcnow())
        header.pid = pid
        message.data.CopyFrom(event.pb_msg)
        return message

    return msg_from_base_event


def _flag_source_without_stack(stack: ExitStack) -> None:
    try:
        from dbt_common import behavior_flags
    except ImportError:
        return
    rendered = getattr(behavior_flags, "BehaviorFlagRendered", None)
    # Read from the class's own namespace: put back as it was, a static method.
    original = getattr(rendered, "__dict__", {}).get("_default_source")
    if not isinstance(original, staticmethod):
        log.debug("dbt's behavior flags find their module another way: dbt finds it")
        return
    rendered._default_source = staticmethod(_module_creating_flag)
    stack.callback(setattr, rendered, "_default_source", original)


def _module_creating_flag() -> str:
    """dbt's BehaviorFlagRendered._default_source: the name of the first module on the call stack that
    is not dbt's behavior-flag module, "Unknown" when there is none."""
    from dbt_common import behavior_flags

    # dbt's version looks at its own frame first, which is always in behavior_flags: starting from
    # this function's caller skips the same frame.
    frame = sys._getframe(1)
    while frame is not None:
        module = inspect.getmodule(frame)
        if module and module.__name__ != behavior_flags.__name__:
            return module.__name__
        frame = frame.f_back
    return "Unknown"
