"""Child processes of `shop demo`: each in its own session, its output in a log file.

Own sessions (process groups) keep a terminal's Ctrl-C away from the children, so the demo
stops them itself, in order (the stream first, the servers last) and each as a whole group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    log_path: Path
    url: str | None = None  # what answers once it is up (None: nothing to wait for)
    stop_signal: int = signal.SIGTERM
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, env: Mapping[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                list(self.argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=dict(env), start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def answers(self, timeout_s: float = 2.0) -> bool:
        if self.url is None:
            return self.running()
        try:
            with urllib.request.urlopen(self.url, timeout=timeout_s) as response:  # noqa: S310 - localhost
                return 200 <= response.status < 400
        except (OSError, urllib.error.URLError):
            return False

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """Signal the child's process group, wait, then kill what is left; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            _signal_group(self.process.pid, self.stop_signal)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        # Anything the child left in its group (it should have taken its own children down).
        _signal_group(self.process.pid, signal.SIGKILL)
        return self.process.returncode


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def wait_until_answering(children: Sequence[Child], timeout_s: float, *, on_up=None) -> list[Child]:
    """Wait until every child answers; returns those that died or never answered in time."""
    waiting = list(children)
    deadline = time.monotonic() + timeout_s
    failed: list[Child] = []
    while waiting and time.monotonic() < deadline:
        for child in list(waiting):
            if not child.running():
                waiting.remove(child)
                failed.append(child)
            elif child.answers():
                waiting.remove(child)
                if on_up is not None:
                    on_up(child)
        if waiting:
            time.sleep(0.3)
    return failed + waiting
