"""`shop demo` end to end, as `make demo` runs it: a small shop goes live, then Ctrl-C.

The demo runs in a subprocess on its own embedded PostgreSQL (a private SHOP_HOME, no
SHOP_DATABASE_URL): the path a newcomer takes, including stopping the database it started.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from shopcore import embedded
from tests.support import REPO_ROOT, private_home

pytestmark = pytest.mark.slow


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode("utf-8", errors="replace")


def _wait_for(condition: Callable[[], object], timeout_s: float, what: str, output: list[str]) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1.0)
    raise AssertionError(f"timed out waiting for {what}; demo output so far:\n" + "".join(output[-60:]))


def _processes_with_home(home: Path) -> list[str]:
    """Processes whose environment names this SHOP_HOME (every child of the demo inherits it)."""
    marker = f"SHOP_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name}: {cmdline}")
        except OSError:
            continue
    return found


@pytest.fixture
def demo_home():
    home = private_home("shop-demo-")
    yield home
    if embedded.status(home).running:  # only after a failed test: never leave a server behind
        embedded.stop(home)
    shutil.rmtree(home, ignore_errors=True)


def test_demo_goes_live_refreshes_serves_and_stops_cleanly(demo_home):
    api_port, dashboard_port, docs_port = _free_ports(3)
    env = {key: value for key, value in os.environ.items() if key != "SHOP_DATABASE_URL"}
    env.update(SHOP_HOME=str(demo_home), COLUMNS="200", PYTHONUNBUFFERED="1")
    command = [
        sys.executable, "-m", "shop", "demo", "--users", "400", "--products", "120", "--days", "40",
        "--rate", "40", "--refresh-seconds", "5", "--retrain-minutes", "1",
        "--api-port", str(api_port), "--dashboard-port", str(dashboard_port), "--docs-port", str(docs_port),
    ]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        _wait_for(lambda: any("The shop is live" in line for line in output) or process.poll() is not None,
                  420, "the demo to go live", output)
        assert process.poll() is None, "the demo exited:\n" + "".join(output)

        # All three answer.
        status, body = _get(f"http://127.0.0.1:{api_port}/health/ready")
        assert status == 200 and "ready" in body
        status, body = _get(f"http://127.0.0.1:{api_port}/recommendations/1?k=5")
        assert status == 200 and '"variant"' in body
        assert _get(f"http://127.0.0.1:{dashboard_port}/_stcore/health")[0] == 200
        status, body = _get(f"http://127.0.0.1:{docs_port}/")
        assert status == 200 and "dbt" in body.lower()
        assert (demo_home / "logs" / "api.log").is_file() and (demo_home / "logs" / "simulator.log").is_file()

        status_now = embedded.status(demo_home)
        conninfo = f"host={status_now.socket_dir} port={status_now.port} user={embedded.SUPERUSER} dbname=shop"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            def scalar(query: str) -> object:
                return conn.execute(query).fetchone()[0]

            # Live events arrive, some of them from closed-loop sessions.
            before = scalar("select count(*) from raw.interactions")
            _wait_for(lambda: scalar("select count(*) from raw.interactions") > before + 50, 60,
                      "live events", output)
            _wait_for(lambda: scalar("select count(*) from raw.interactions where recommendation_variant is not null"),
                      90, "closed-loop events", output)

            # Today's sales_summary row grows between two refreshes of the loop.
            def successful_builds() -> int:
                return scalar("select count(*) from shop_meta.refresh_runs where kind = 'build' and succeeded")

            def today_views() -> int:
                return scalar("select coalesce(max(views), 0) from marts.sales_summary "
                              "where activity_date = cast(now() at time zone 'UTC' as date)")

            _wait_for(lambda: successful_builds() >= 1, 180, "a successful refresh", output)
            first_count, first_views = successful_builds(), today_views()
            _wait_for(lambda: successful_builds() > first_count, 180, "a second successful refresh", output)
            assert today_views() > first_views
            assert scalar("select count(*) from shop_meta.refresh_runs where not succeeded") == 0, (
                (demo_home / "logs" / "refresh.log").read_text()[-3000:])

            # The variant mart has rows for both variants the API serves.
            _wait_for(lambda: scalar("select count(distinct variant) from marts.recommendation_variant_daily "
                                     "where impressions > 0") >= 2, 120, "both variants in the mart", output)
            assert scalar("select sum(clicks) from marts.recommendation_variant_daily") > 0
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            code = process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        reader.join(5)

    text = "".join(output)
    assert code == 0, text[-4000:]
    assert "Stopped." in text
    assert not embedded.status(demo_home).running
    assert _processes_with_home(demo_home) == []
    for port in (api_port, dashboard_port, docs_port):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on {port}"
