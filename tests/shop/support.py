"""Helpers of the tests in tests/shop: homes with awkward paths, running a program as another OS user."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psutil
import pytest

OTHER_USER = "nobody"


def other_user_cmd(*argv: str) -> list[str]:
    """argv run as the unprivileged OS user `nobody` (no supplementary groups), via setpriv."""
    if os.geteuid() != 0:
        pytest.skip("running a program as another OS user needs root")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    import grp
    import pwd

    entry = pwd.getpwnam(OTHER_USER)
    group = grp.getgrgid(entry.pw_gid).gr_name
    return [setpriv, f"--reuid={OTHER_USER}", f"--regid={group}", "--clear-groups", *argv]


def run_as_other_user(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(other_user_cmd(*argv), capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, cwd="/")


def postmasters_of(pgdata: Path) -> list[psutil.Process]:
    """The postgres postmasters started on this data directory (children have other command lines)."""
    found = []
    for process in psutil.process_iter(attrs=("name", "cmdline")):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and "-D" in cmdline and str(pgdata) in cmdline:
            found.append(process)
    return found
