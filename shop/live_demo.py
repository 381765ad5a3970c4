"""The live part of `shop demo`: every server, the stream and the refresh loop, until Ctrl-C.

Order of start: the API, the dashboard and the docs site (in parallel; the docs child runs
`dbt docs generate` first), then, once the API answers, the live stream whose closed-loop
sessions ask it for recommendations (none with `--no-stream`), then the refresh loop (after the docs site has generated,
so two dbt commands never share the target directory at once). Order of stop: the stream first
(it finishes its batch), the refresh loop (it lets a running build finish for a while), then the
servers, and last the embedded database if this demo started it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from shop.ports import check_ports_free
from shop.refresh import JobOutcome, RefreshLoop
from shop.supervisor import Child, wait_until_answering
from shopcore import db as shop_db
from shopcore import embedded
from shopcore.errors import ShopError
from shopcore.settings import Settings

START_TIMEOUT_S = 240.0


@dataclass(frozen=True)
class LiveOptions:
    api_port: int = 8000
    dashboard_port: int = 8501
    docs_port: int = 8080
    rate: float = 20.0
    refresh_seconds: float = 30.0
    retrain_minutes: float | None = 10.0
    variants: str = "popular=popular:1,model=current:1"
    host: str = "127.0.0.1"
    stream: bool = True  # False (`--no-stream`): serve the shop the database holds, simulate nothing
    incidents: tuple[str, ...] = ()  # --incident specs for the live stream


def _children(opts: LiveOptions, logs: Path) -> tuple[list[Child], Child]:
    shop = [sys.executable, "-m", "shop"]
    local = "127.0.0.1" if opts.host in ("0.0.0.0", "127.0.0.1") else opts.host
    servers = [
        Child("recommendation API", [*shop, "serve", "api", "--port", str(opts.api_port), "--host", opts.host],
              logs / "api.log", url=f"http://{local}:{opts.api_port}/health/live"),
        Child("dashboard", [*shop, "serve", "dashboard", "--port", str(opts.dashboard_port), "--host", opts.host],
              logs / "dashboard.log", url=f"http://{local}:{opts.dashboard_port}/_stcore/health"),
        Child("dbt docs", [*shop, "serve", "docs", "--port", str(opts.docs_port), "--host", opts.host],
              logs / "docs.log", url=f"http://{local}:{opts.docs_port}/"),
    ]
    stream = Child(
        "live stream",
        [*shop, "simulate", "--live", "--rate", f"{opts.rate:g}",
         "--recommendations-api", f"http://{local}:{opts.api_port}",
         *(arg for spec in opts.incidents for arg in ("--incident", spec))],
        logs / "simulator.log", stop_signal=signal.SIGINT,
    )
    return servers, stream


def _status_table(servers: list[Child], stream: Child, opts: LiveOptions, logs: Path, info, up_s: float) -> Table:
    shown = "localhost" if opts.host in ("0.0.0.0", "127.0.0.1") else opts.host
    table = Table(title=f"The shop is live (everything answered {up_s:.0f} s after the start)", show_lines=False)
    for column in ("part", "where", "pid", "log"):
        table.add_column(column, overflow="fold")
    table.add_row("dashboard", f"http://{shown}:{opts.dashboard_port}", str(servers[1].pid), str(servers[1].log_path))
    table.add_row("recommendation API", f"http://{shown}:{opts.api_port}/docs", str(servers[0].pid),
                  str(servers[0].log_path))
    table.add_row("dbt docs (lineage)", f"http://{shown}:{opts.docs_port}", str(servers[2].pid),
                  str(servers[2].log_path))
    if opts.stream:
        table.add_row("live stream", f"~{opts.rate:g} events/s, closed loop via the API", str(stream.pid),
                      str(stream.log_path))
    else:
        table.add_row("live stream", "off (--no-stream): events come from `shop import` and POST /events", "", "")
    retrain = f", retrain every {opts.retrain_minutes:g} min" if opts.retrain_minutes else ""
    table.add_row("refresh loop", f"dbt build every {opts.refresh_seconds:g} s{retrain}", str(os.getpid()),
                  str(logs / "refresh.log"))
    table.add_row("A/B variants", opts.variants, "", "")
    table.add_row("database", info.url(hide_password=True), "", "")
    return table


class _Interrupted:
    """Ctrl-C or SIGTERM: the first stops the demo in order, a second makes the stop quick."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.count = 0

    def __call__(self, *_: object) -> None:
        self.count += 1
        self.event.set()

    def install(self) -> None:
        signal.signal(signal.SIGINT, self)
        signal.signal(signal.SIGTERM, self)


def run(settings: Settings, info: shop_db.ConnectionInfo, opts: LiveOptions, *, started_at: float,
        stop_database: bool, console: Console) -> None:
    """Run the live shop until interrupted."""
    # Checked again: the set-up took a while, and something may have taken a port since.
    check_ports_free(opts.host, {"--api-port": opts.api_port, "--dashboard-port": opts.dashboard_port,
                                 "--docs-port": opts.docs_port})
    home = settings.home_dir.resolve()
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SHOP_HOME": str(home), "SHOP_API_VARIANTS": opts.variants, "PYTHONUNBUFFERED": "1"}
    servers, stream = _children(opts, logs)
    refresh: RefreshLoop | None = None
    interrupted = _Interrupted()
    interrupted.install()

    def say(text: str) -> None:
        console.print(f"[dim]{datetime.now():%H:%M:%S}[/] {text}")

    try:
        console.rule("Starting the API, the dashboard and the docs site")
        for child in servers:
            child.start(env)
        failed = wait_until_answering(servers, START_TIMEOUT_S, on_up=lambda c: say(f"{c.name} answers at {c.url}"))
        if interrupted.event.is_set():
            return
        if failed:
            details = "\n\n".join(f"{c.name} ({c.log_path}):\n{c.log_tail()}" for c in failed)
            raise ShopError(f"{', '.join(c.name for c in failed)} did not come up:\n{details}")
        if opts.stream:
            stream.start(env)
        refresh = RefreshLoop(
            info=info, home=home, env=env, log_path=logs / "refresh.log", interval_s=opts.refresh_seconds,
            retrain_every_s=opts.retrain_minutes * 60 if opts.retrain_minutes else None,
            on_outcome=lambda outcome: say(_outcome_text(outcome)),
        )
        refresh.start()
        console.print(_status_table(servers, stream, opts, logs, info, time.monotonic() - started_at))
        console.print("Ctrl-C stops everything cleanly; `shop demo` again resumes on the same data.")
        reported: set[str] = set()
        while not interrupted.event.wait(1.0):
            for child in (*servers, stream) if opts.stream else servers:
                if not child.running() and child.name not in reported:
                    reported.add(child.name)
                    say(f"[bold red]{child.name} stopped[/] (exit code {child.process.returncode}); "
                        f"its log: {child.log_path}\n{child.log_tail(8)}")
    finally:
        say(("Stopping: the live stream, the refresh loop, the servers" if opts.stream else
             "Stopping: the refresh loop, the servers") + (", the database" if stop_database else ""))
        quick = interrupted.count > 1
        stream.stop(timeout_s=3 if quick else 20)
        if refresh is not None:
            refresh.stop(timeout_s=1 if quick else 20)
        for child in servers:
            child.stop(timeout_s=3 if quick else 10)
        if stop_database and info.embedded:
            embedded.stop(home)
        say("Stopped.")


def _outcome_text(outcome: JobOutcome) -> str:
    text = outcome.describe()
    return f"[red]{text}[/]" if not outcome.succeeded else text
