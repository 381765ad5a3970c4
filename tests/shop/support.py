"""Helpers of the tests in tests/shop: homes with awkward paths, running a program as another OS user, dbt's
partial-parse state read back from its pickle."""

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


def forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Decoding dbt's partial-parse state raises (dbt itself would catch that and parse everything again):
    the calls are listed too (shop/parse_state_cache.py)."""
    from shop import parse_state_cache

    calls: list[object] = []

    def decode(*args: object, **_kwargs: object) -> None:
        calls.append(args)
        raise AssertionError("the state was decoded again")

    monkeypatch.setattr(parse_state_cache, "_decoded", decode)
    return calls


def assert_state_kept_alike(home: Path, state: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """dbt's partial-parse state, decoded once under `home` and then read from its pickle, is the same
    manifest: byte for byte when serialised again."""
    from dbt.contracts.graph.manifest import Manifest
    from dbt.parser.manifest import (
        extended_mashumaro_encoder,
        extended_mashumuro_decoder,
    )

    from shop import parse_state_cache

    with parse_state_cache.kept(home):
        decoded = Manifest.from_msgpack(state, decoder=extended_mashumuro_decoder)
    with monkeypatch.context() as patched:
        calls = forbid_decoding(patched)
        with parse_state_cache.kept(home):
            kept = Manifest.from_msgpack(state, decoder=extended_mashumuro_decoder)
    assert calls == [] and kept is not decoded
    assert kept.to_msgpack(extended_mashumaro_encoder) == decoded.to_msgpack(extended_mashumaro_encoder)
