"""Helpers of the API tests: a shop of their own, a real server over HTTP, new users and events."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from threadpoolctl import threadpool_limits

from shopcore import db as shop_db
from shopcore.settings import Settings
from tests.support import REPO_ROOT

FAST = {  # background intervals short enough for tests to wait on them
    "SHOP_API_POLL_INTERVAL_S": "0.1",
    "SHOP_API_RELOAD_INTERVAL_S": "0.2",
    "SHOP_API_LOG_FLUSH_INTERVAL_S": "0.2",
    # No test but those of the ceilings (which set their own) depends on how many impressions
    # earlier tests logged in the same second.
    "SHOP_API_IMPRESSIONS_PER_S": "1000000",
    "SHOP_API_UNKNOWN_IMPRESSIONS_PER_S": "1000000",
    "OPENBLAS_NUM_THREADS": "1",
}


def wait_until(predicate: Callable[[], object], timeout: float = 30, interval: float = 0.05,
               message: str = "condition") -> object:
    """Poll until ``predicate`` is truthy (a liveness guard, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (httpx.HTTPError, psycopg.Error) as exc:
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}" + (f" (last error: {last_error})" if last_error else ""))


@dataclass
class Shop:
    home: Path
    info: shop_db.ConnectionInfo
    ready_at: object = None  # the database's now() once the shop was built and trained

    @property
    def env(self) -> dict[str, str]:
        return {"SHOP_HOME": str(self.home), "SHOP_DATABASE_URL": ""}

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    def connect(self, **kwargs) -> psycopg.Connection:
        info = shop_db.resolve(Settings(home=self.home, database_url=None), start=False)
        return shop_db.connect(info, **kwargs)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(sql, params).fetchall()

    def train(self, algorithm: str = "hybrid", make_current: bool = True, **params) -> Path:
        """Train with the engine on the warehouse and save an artifact (as `shop train` does)."""
        from recommender import artifacts, data
        from recommender.algorithms import make
        from recommender.matrix import build_data
        from recommender.model import TrainedModel

        with self.connect() as conn:
            matrix = build_data(data.load_interactions(conn), data.load_catalogue(conn))
        with threadpool_limits(1, "blas"):
            model = TrainedModel(make(algorithm, **params).fit(matrix), matrix, {})
        return artifacts.save(model, self.models_dir, make_current=make_current)


def serving_home(shop: Shop, home: Path) -> Path:
    """A SHOP_HOME of its own (so other tests keep their model) serving a copy of the shop's current model."""
    from recommender import artifacts

    models = home / "models"
    models.mkdir(parents=True)
    served = artifacts.current_path(shop.models_dir)
    shutil.copytree(served, models / served.name)
    artifacts.set_current(models, served.name)
    return home


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ApiServer:
    """`python -m recommender.api` in a subprocess, as `shop serve api` runs it."""

    def __init__(self, env: dict[str, str], log_path: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "recommender.api", "--port", str(self.port), "--workers", str(workers)],
            env={**os.environ, **FAST, **env}, cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.client = httpx.Client(base_url=self.url, timeout=30)
        try:
            wait_until(self._started, timeout=120, interval=0.1, message=f"the API to start (log: {log_path})")
        except AssertionError:
            self.stop()
            raise AssertionError(f"the API did not start:\n{log_path.read_text()[-3000:]}") from None

    def _started(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the API exited with {self.process.returncode}:\n{self.log_path.read_text()[-3000:]}")
        return self.client.get("/health/live").status_code == 200

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.client.post(path, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def untouched_users(shop: Shop, n: int, *, min_items: int = 1, max_items: int = 1_000_000,
                    most_active: bool = True) -> list[int]:
    """Users with history in the warehouse who have no events from any test: what a test that reads
    or changes a known user's recommendations picks, so that no earlier test (in any order) has
    folded events into them. A test that posts events for one of them makes it touched for the rest."""
    return [r[0] for r in shop.query(
        "select u.user_id from marts.user_item_interactions u "
        "where not exists (select 1 from raw.interactions i where i.user_id = u.user_id and i.loaded_at > %s) "
        "group by u.user_id having count(*) between %s and %s "
        "order by case when %s then -count(*) else count(*) end, u.user_id limit %s",
        (shop.ready_at, min_items, max_items, most_active, n))]


def new_user(shop: Shop) -> int:
    """A registered user with no history: what a fresh sign-up looks like. (Below 10^12: events for
    ids the shop has not seen, e.g. the fuzz tests' random ones up to 2^63 - 1, create users.)"""
    with shop.connect() as conn:
        user_id = conn.execute("select coalesce(max(user_id) filter (where user_id < 1e12), 0) + 1000 "
                               "+ (random() * 1e6)::int8 from raw.users").fetchone()[0]
        conn.execute(
            "insert into raw.users (user_id, email, full_name, country, channel, signup_at) "
            "values (%s, %s, 'Test User', 'DE', 'organic', now())",
            (user_id, f"test-{uuid.uuid4().hex[:8]}@example.com"),
        )
    return user_id


def view(user_id: int, product_id: int, event_type: str = "view", **extra) -> dict:
    return {"session_id": str(uuid.uuid4()), "user_id": user_id, "product_id": product_id,
            "event_type": event_type, **extra}
