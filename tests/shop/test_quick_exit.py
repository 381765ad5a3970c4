"""shop.quick_exit: a finished command ends with the exit handlers run, its output flushed and the
status `sys.exit` gives, without the interpreter's teardown; with another thread alive, it exits normally."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# A module-level object whose finalizer prints: it runs in the interpreter's teardown only.
SCRIPT = textwrap.dedent("""
    import atexit, sys, threading, time
    from shop import quick_exit

    class Teardown:
        def __del__(self):
            print("torn down")

    kept_until_teardown = Teardown()
    atexit.register(print, "exit handler ran")

    def command():
        print("output of the command")  # buffered: stdout is a pipe
        if {thread}:
            threading.Thread(target=lambda: (time.sleep(0.3), print("thread finished"))).start()
        {ending}

    quick_exit.exit_after(command)
""")


def _run(ending: str, thread: bool = False) -> subprocess.CompletedProcess[str]:
    script = SCRIPT.format(ending=ending, thread=thread)
    return subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("ending", "status", "stderr"), [
    ("return", 0, ""), ("sys.exit()", 0, ""), ("sys.exit(3)", 3, ""), ("sys.exit('no shop here')", 1, "no shop here\n"),
])
def test_a_finished_command_exits_like_sys_exit_without_the_teardown(ending: str, status: int, stderr: str) -> None:
    done = _run(ending)
    assert (done.returncode, done.stderr) == (status, stderr)
    assert done.stdout == "output of the command\nexit handler ran\n"


def test_with_another_thread_running_the_command_exits_the_normal_way() -> None:
    done = _run("sys.exit(4)", thread=True)
    assert done.returncode == 4
    assert done.stdout.splitlines() == ["output of the command", "thread finished", "exit handler ran", "torn down"]


def test_an_error_of_the_command_is_raised_as_before() -> None:
    done = _run("raise RuntimeError('broken')")
    assert done.returncode == 1 and "RuntimeError: broken" in done.stderr
    assert "torn down" in done.stdout
