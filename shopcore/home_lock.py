"""One thing at a time under a SHOP_HOME: a named lock file that says who holds it.

    with home_lock.hold(home, "build"):                  # waits for the current holder, then holds
        ...
    with home_lock.hold(home, "train", wait=False):      # or fails fast with HomeBusy:
        ...                                              #   "a build is already running under ... (pid 1234)"

The lock is `fcntl.flock` on `SHOP_HOME/.lock-<name>`: the kernel releases it when the holder exits,
however it exits, so a crash never leaves a stale lock behind. While held, the file records the
holder (pid, what, since) for the message a waiting or refused process shows; the content is
information only, the flock is the lock.

Names: `DB` serialises the embedded server's start and stop; `WORK` is for jobs that write the
warehouse or the models (builds, trains, imports). They are separate so that a command that only
needs the server (the API, the dashboard, `shop db start`) never waits for a long build.

A lock is re-entrant within a thread (a build that starts the server, a service that calls another
service under the same name, nest freely); other threads of the same process wait like other processes.
The file descriptor is close-on-exec, so subprocesses (dbt, the server itself) never inherit a lock.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shopcore.errors import ShopError

DB = "db"
WORK = "work"

_POLL_S = 0.1


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as its file records it (pid None when it could not be read)."""

    what: str
    pid: int | None
    since: str | None = None

    def details(self) -> str:
        pid = f"pid {self.pid}" if self.pid else "pid unknown"
        return f"{pid}, since {self.since}" if self.since else pid

    def describe(self) -> str:
        return f"{self.what} ({self.details()})"


class HomeBusy(ShopError):
    """The lock is held by another process (wait=False, or the wait timed out)."""

    def __init__(self, message: str, holder: Holder):
        super().__init__(message)
        self.holder = holder


def lock_path(home: Path, name: str = WORK) -> Path:
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"lock name must be letters, digits, - or _: {name!r}")
    return Path(home) / f".lock-{name}"


def _article(what: str) -> str:
    return ("an " if what[:1].lower() in "aeiou" else "a ") + what


def read_holder(path: Path) -> Holder:
    try:
        record = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        record = {}
    pid = record.get("pid")
    return Holder(
        what=str(record.get("what") or "another command"),
        pid=pid if isinstance(pid, int) else None,
        since=record.get("since") if isinstance(record.get("since"), str) else None,
    )


class _Held:
    """This process's hold on one lock file: the open descriptor, which thread owns it, how deep."""

    def __init__(self) -> None:
        self.mutex = threading.RLock()
        self.fd: int | None = None
        self.depth = 0


_held: dict[Path, _Held] = {}
_held_guard = threading.Lock()


def _entry(path: Path) -> _Held:
    with _held_guard:
        return _held.setdefault(path, _Held())


def _default_on_wait(holder: Holder, path: Path) -> None:
    print(f"Waiting for {holder.describe()} to finish (lock {path})...", file=sys.stderr, flush=True)


@contextmanager
def hold(
    home: Path,
    what: str,
    *,
    wait: bool = True,
    name: str = WORK,
    timeout: float | None = None,
    on_wait: Callable[[Holder, Path], None] | None = _default_on_wait,
) -> Iterator[Holder]:
    """Hold the lock `name` under `home` while the block runs; `what` says who holds it ("build", "db start").

    wait=False raises HomeBusy at once when another process holds it; wait=True waits (calling
    on_wait once with the holder, by default a line on stderr) and raises HomeBusy after `timeout`
    seconds if one is given. Yields the Holder record this process wrote.
    """
    home = Path(home)
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ShopError(f"SHOP_HOME {home} is not a writable directory ({exc.strerror or exc}).") from exc
    path = lock_path(home, name).absolute()
    entry = _entry(path)
    # Threads of this process: the RLock makes the lock re-entrant for the owning thread and makes
    # other threads wait here; only the outermost hold touches the file.
    if not entry.mutex.acquire(blocking=wait, timeout=-1 if timeout is None or not wait else timeout):
        holder = read_holder(path)
        raise HomeBusy(f"{_article(holder.what)} is already running under {home} ({holder.details()}).", holder)
    try:
        if entry.depth:
            entry.depth += 1
            try:
                yield read_holder(path)
            finally:
                entry.depth -= 1
            return
        fd = _acquire(path, home, wait=wait, timeout=timeout, on_wait=on_wait)
        me = Holder(what=what, pid=os.getpid(), since=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": me.pid, "what": me.what, "since": me.since}).encode(), 0)
        entry.fd, entry.depth = fd, 1
        try:
            yield me
        finally:
            entry.fd, entry.depth = None, 0
            try:
                os.ftruncate(fd, 0)  # the record describes the holder only while it holds
            finally:
                os.close(fd)  # closing releases the flock
    finally:
        entry.mutex.release()


def _acquire(path: Path, home: Path, *, wait: bool, timeout: float | None,
             on_wait: Callable[[Holder, Path], None] | None) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise ShopError(f"Cannot open the lock file {path} ({exc.strerror or exc}).") from exc
    try:
        announced = False
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
            holder = read_holder(path)
            if not wait:
                raise HomeBusy(f"{_article(holder.what)} is already running under {home} "
                               f"({holder.details()}). Wait for it to finish, or stop it.", holder)
            if deadline is not None and time.monotonic() >= deadline:
                raise HomeBusy(f"{_article(holder.what)} under {home} still holds the lock after "
                               f"{timeout:g} s: {holder.describe()}.", holder)
            if not announced and on_wait is not None:
                on_wait(holder, path)
                announced = True
            # Polling (not a blocking flock) keeps a timeout possible and Ctrl-C responsive.
            time.sleep(_POLL_S)
    except BaseException:
        os.close(fd)
        raise


def holder_of(home: Path, name: str = WORK) -> Holder | None:
    """Who holds the lock now, or None when it is free (a probe: it takes and drops the lock)."""
    path = lock_path(Path(home), name)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return read_holder(path)
            raise
        return None
    finally:
        os.close(fd)
