"""End a finished `shop` command without the interpreter's teardown.

When a Python process exits normally, the interpreter first runs the exit handlers (`atexit`: log
files flushed and closed, multiprocessing's children joined, weakref finalizers), then tears down
every module it imported and frees their objects one by one. After a build, with dbt and its
contracts, adapters and parsed project in memory, that teardown is a large share of a refresh
command's own CPU and is spent after all the work is done, on the build's critical path. Nothing of
it is observable: the process is about to end and the operating system reclaims its memory, files
and sockets anyway.

`exit_after` runs a command, then does what a normal exit does that anyone could notice (the exit
handlers, flushing stdout and stderr, the same exit status) and ends the process with `os._exit`,
skipping the teardown. When another thread is still running (a normal exit would wait for it), or
the interpreter lacks the hook that runs the exit handlers, it exits the normal way.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

# The status Python gives a process whose stdout or stderr could not be flushed at exit.
FLUSH_FAILED_STATUS = 120


def exit_after(command: Callable[[], object]) -> NoReturn:
    """Run `command` and end the process with the status `sys.exit` would give: 0 when it returns,
    the SystemExit's code when it exits. Any other exception propagates (the normal traceback and exit)."""
    try:
        command()
        code: object = 0
    except SystemExit as exit_request:
        code = exit_request.code
    end(code)


def end(code: object) -> NoReturn:
    """Exit as `sys.exit(code)` would, without tearing the interpreter down."""
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None or threading.active_count() > 1:
        sys.exit(code)
    status = exit_status(code)
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe: Python's own exit reports it with this status
            status = status or FLUSH_FAILED_STATUS
    os._exit(status)


def exit_status(code: object) -> int:
    """The process status of `sys.exit(code)`: None is 0, an integer itself, anything else is printed
    to stderr and is 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1
