"""The embedded server's own account of a build: PostgreSQL's per-statement CPU (log_statement_stats),
checkpoints and autovacuum runs, read from the server log and attributed to dbt nodes.

Shared by benchmarks/statements.py (a kept shop, restored per run) and benchmarks/refresh.py
--statements (the refresh benchmark's own incremental build, right after its full build and append).
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

from shopcore import embedded

_ENTRY = re.compile(r"\n(?=\d{4}-\d\d-\d\d [\d:.]+ \w+ \[\d+\] LOG:  QUERY STATISTICS)")
_USAGE = re.compile(r"!\t([\d.]+) s user, ([\d.]+) s system, ([\d.]+) s elapsed")
_PID = re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+ \w+ \[(\d+)\]")
_NODE = re.compile(r'"node_id": "([^"]+)"')
_EVENT = re.compile(r"^(\d{4}-\d\d-\d\d [\d:.]+) \w+ \[\d+\] LOG:  ((?:checkpoint|automatic (?:vacuum|analyze))[^\n]*)",
                    re.MULTILINE)
# Per-statement CPU for every statement, and (for what runs beside a build) checkpoints and every
# autovacuum run; log_min_error_statement keeps the statement text beside its figures.
SETTINGS = {"log_statement_stats": "on", "log_min_error_statement": "log", "log_checkpoints": "on",
            "log_autovacuum_min_duration": "0"}


def turn_on(repo: Path, python: str, env: dict[str, str]) -> int:
    """Turn the settings on in the home's running server (ALTER SYSTEM, then a reload) and return the
    log's current size: read_since(offset) gives what the server writes from now on."""
    def psql(sql: str) -> None:
        subprocess.run([python, "-m", "shop", "db", "psql", "-c", sql], cwd=repo, env=env, check=True,
                       capture_output=True)

    for name, value in SETTINGS.items():
        psql(f"alter system set {name} = '{value}'")  # our own constants, not user input
    psql("select pg_reload_conf()")
    return log_path(Path(env["SHOP_HOME"])).stat().st_size


def log_path(home: Path) -> Path:
    return embedded.pgdata_dir(home) / "log"


def read_since(home: Path, offset: int) -> str:
    with log_path(home).open("rb") as handle:
        handle.seek(offset)
        return handle.read().decode("utf-8", errors="replace")


def parse(text: str) -> dict:
    """CPU per dbt node and per statement, the backends that ran them, and the server's checkpoints and
    autovacuum runs, from a server log written with SETTINGS."""
    per_node: Counter[str] = Counter()
    elapsed_per_node: Counter[str] = Counter()
    statements: list[tuple[float, float, str, str]] = []
    pids = set()
    for entry in _ENTRY.split(text):
        usage = _USAGE.search(entry)
        if not usage:
            continue
        cpu, elapsed = float(usage.group(1)) + float(usage.group(2)), float(usage.group(3))
        sql = entry.split("STATEMENT:  ", 1)[1] if "STATEMENT:  " in entry else ""
        node = _NODE.search(sql)
        name = node.group(1) if node else "(no dbt node)"
        per_node[name] += cpu
        elapsed_per_node[name] += elapsed
        pid = _PID.match(entry.lstrip("\n"))
        if pid:
            pids.add(pid.group(1))
        body = " ".join(sql.split("*/", 1)[-1].split())
        statements.append((cpu, elapsed, name, body))
    events = [(stamp, " ".join(what.split())) for stamp, what in _EVENT.findall(text)]
    return {"per_node": dict(per_node), "elapsed_per_node": dict(elapsed_per_node), "statements": statements,
            "backends": len(pids), "events": events}


def print_heaviest(statements: list[tuple[float, float, str, str]], top: int, which: str = "") -> None:
    """The `top` statements by CPU, with their elapsed time and node."""
    print(f"\nthe heaviest statements {which}(CPU s, elapsed s)\n")
    print("| CPU s | elapsed s | node | statement |")
    print("| ---: | ---: | --- | --- |")
    for cpu, elapsed, name, body in sorted(statements, reverse=True)[:top]:
        print(f"| {cpu:.2f} | {elapsed:.2f} | {name.rsplit('.', 1)[-1][:40]} | `{body[:90]}` |")


def print_events(events: list[tuple[str, str]]) -> None:
    """What the server did beside the statements: a checkpoint or an autovacuum run during a build
    competes with it for the two cores and the disk."""
    if not events:
        print("\nno checkpoint or autovacuum run during the build")
        return
    print("\ncheckpoints and autovacuum runs during the build\n")
    print("| time | event |")
    print("| --- | --- |")
    for stamp, what in events:
        print(f"| {stamp} | {what[:150]} |")
