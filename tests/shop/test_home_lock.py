"""shopcore.home_lock between real processes: fail fast, wait, release on exit (even a crash)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from shopcore import home_lock
from shopcore.errors import ShopError
from tests.support import REPO_ROOT

# A holder in another process: takes the lock, says so, and keeps it until its stdin closes.
_HOLDER = """
import sys
from pathlib import Path
from shopcore import home_lock
with home_lock.hold(Path(sys.argv[1]), sys.argv[2], name=sys.argv[3]):
    print("held", flush=True)
    sys.stdin.read()
print("released", flush=True)
"""

# A second process that wants the same lock, waiting (the default) or not.
_WANTER = """
import sys
from pathlib import Path
from shopcore import home_lock
from shopcore.errors import ShopError
try:
    with home_lock.hold(Path(sys.argv[1]), "train", name=sys.argv[2], wait=sys.argv[3] == "wait") as me:
        print("acquired", me.pid, flush=True)
except ShopError as exc:
    print("refused:", exc, flush=True)
    sys.exit(3)
"""


def _python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO_ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


@pytest.fixture()
def holder(tmp_path: Path):
    """A real process holding the `work` lock of tmp_path as "build"."""
    process = _python(_HOLDER, str(tmp_path), "build", home_lock.WORK)
    assert process.stdout.readline().strip() == "held"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


def test_fail_fast_names_the_holder_and_its_pid(tmp_path: Path, holder: subprocess.Popen):
    refused = subprocess.run([sys.executable, "-c", _WANTER, str(tmp_path), home_lock.WORK, "nowait"],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 3, refused.stderr
    assert f"a build is already running under {tmp_path} (pid {holder.pid}, since " in refused.stdout

    with pytest.raises(home_lock.HomeBusy) as caught:  # the same in this process, as a typed error
        with home_lock.hold(tmp_path, "train", wait=False):
            pass
    assert isinstance(caught.value, ShopError)
    assert caught.value.holder.what == "build" and caught.value.holder.pid == holder.pid
    assert home_lock.holder_of(tmp_path).pid == holder.pid


def test_a_waiter_says_whom_it_waits_for_and_proceeds_after_release(tmp_path: Path, holder: subprocess.Popen):
    waiter = _python(_WANTER, str(tmp_path), home_lock.WORK, "wait")
    # The waiter announces the holder before it gets the lock: it has seen the lock taken.
    assert f"Waiting for build (pid {holder.pid}" in waiter.stderr.readline()
    holder.stdin.close()
    assert holder.stdout.readline().strip() == "released"
    out, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, err
    assert out.split() == ["acquired", str(waiter.pid)]
    assert home_lock.holder_of(tmp_path) is None


def test_a_crashed_holder_leaves_no_stale_lock(tmp_path: Path, holder: subprocess.Popen):
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with home_lock.hold(tmp_path, "build", wait=False) as me:  # would raise HomeBusy if still held
        assert me.pid == os.getpid()
        assert home_lock.read_holder(home_lock.lock_path(tmp_path)).what == "build"


def test_names_are_separate_locks(tmp_path: Path, holder: subprocess.Popen):
    with home_lock.hold(tmp_path, "db start", name=home_lock.DB, wait=False):
        assert home_lock.holder_of(tmp_path, home_lock.DB).pid == os.getpid()
    with pytest.raises(home_lock.HomeBusy):
        with home_lock.hold(tmp_path, "import", name=home_lock.WORK, wait=False):
            pass


def test_reentrant_in_a_thread_exclusive_between_threads(tmp_path: Path):
    outcome: list[str] = []

    def other_thread() -> None:
        try:
            with home_lock.hold(tmp_path, "train", wait=False):
                outcome.append("acquired")
        except home_lock.HomeBusy as exc:
            outcome.append(f"busy: {exc.holder.what}")

    with home_lock.hold(tmp_path, "build"):
        with home_lock.hold(tmp_path, "db start"):  # nested in the same thread: no deadlock
            thread = threading.Thread(target=other_thread)
            thread.start()
            thread.join()
        # Still held after the inner block ends: another process is refused.
        refused = subprocess.run([sys.executable, "-c", _WANTER, str(tmp_path), home_lock.WORK, "nowait"],
                                 cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 3 and f"pid {os.getpid()}" in refused.stdout
    assert outcome == ["busy: build"]
    assert home_lock.holder_of(tmp_path) is None


def test_subprocesses_do_not_inherit_the_lock(tmp_path: Path):
    with home_lock.hold(tmp_path, "build"):
        # close_fds=False: only the descriptor's close-on-exec flag keeps the lock out of the child.
        child = subprocess.Popen([sys.executable, "-c", "import sys; print('up', flush=True); sys.stdin.read()"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, close_fds=False)
    try:
        # The child runs (its exec is complete: until then the kernel may briefly keep the copy it
        # forked with); the lock went with our block, not with the child.
        assert child.stdout.readline().strip() == "up"
        assert home_lock.holder_of(tmp_path) is None
    finally:
        child.stdin.close()
        child.wait()


def test_a_wait_can_time_out(tmp_path: Path, holder: subprocess.Popen):
    with pytest.raises(home_lock.HomeBusy, match=r"still holds the lock after 0\.2 s: build \(pid"):
        with home_lock.hold(tmp_path, "train", timeout=0.2, on_wait=None):
            pass
