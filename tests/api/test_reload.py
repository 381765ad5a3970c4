"""A model written by training is picked up without a restart and without a failed request."""

from __future__ import annotations

import json
import random
import shutil
import threading
from pathlib import Path

import httpx
import pytest

from recommender import artifacts
from tests.api.support import ApiServer, Shop, wait_until


class Hammer:
    """Threads calling the API in a loop, recording every status and model id.

    `results` is in completion order across threads; `by_thread` keeps each thread's own
    sequence, where a request starts only after the previous one has finished.
    """

    def __init__(self, server: ApiServer, users: list[int], threads: int = 4) -> None:
        self.server, self.users = server, users
        self.results: list[tuple[int, str | None]] = []
        self.by_thread: list[list[str]] = [[] for _ in range(threads)]
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.server.url, timeout=30) as client:
            while not self._stop.is_set():
                path = rng.choice([f"/recommendations/{rng.choice(self.users)}", "/products/popular",
                                   f"/recommendations/{rng.randint(10**9, 2 * 10**9)}", "/health/ready"])
                try:
                    response = client.get(path)
                    model_id = response.json().get("model_id") if path.startswith("/rec") else None
                    with self._lock:
                        self.results.append((response.status_code, model_id))
                        if model_id is not None:
                            self.by_thread[seed].append(model_id)
                        if response.status_code != 200:
                            self.failures.append(f"{path}: {response.status_code} {response.text[:300]}")
                except httpx.HTTPError as exc:
                    with self._lock:
                        self.failures.append(f"{path}: {exc!r}")

    def __enter__(self) -> Hammer:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def seen(self, model_id: str) -> bool:
        with self._lock:
            return any(m == model_id for _, m in self.results[-50:])


@pytest.mark.slow
def test_new_models_are_served_without_a_restart_or_a_failed_request(
        start_server, shop: Shop, tmp_path: Path) -> None:
    # A SHOP_HOME of its own (so other tests keep their model), on the shop's database.
    home = tmp_path / "home"
    models = home / "models"
    models.mkdir(parents=True)
    first = artifacts.current_path(shop.models_dir)
    shutil.copytree(first, models / first.name)
    artifacts.set_current(models, first.name)
    server = start_server(SHOP_HOME=str(home), SHOP_DATABASE_URL=shop.info.url())
    users = [r[0] for r in shop.query("select distinct user_id from marts.user_item_interactions limit 200")]
    assert server.get("/model").json()["model_id"] == first.name

    with Hammer(server, users) as hammer:
        wait_until(lambda: hammer.seen(first.name), message="requests on the first model")
        second = shop.train("als", make_current=False, factors=16, iterations=5)
        shutil.copytree(second, models / second.name)
        artifacts.set_current(models, second.name)
        wait_until(lambda: hammer.seen(second.name), message="the second model to be served")

        # A damaged artifact made current: the loader keeps to the newest good model.
        broken = models / "20991231T000000000000Z-hybrid-broken"
        broken.mkdir()
        (broken / artifacts.CARD).write_text(json.dumps({"format_version": 1, "files": {"arrays.npz": {
            "bytes": 3, "sha256": "0" * 64}}}))
        (broken / artifacts.ARRAYS).write_bytes(b"bad")
        (models / artifacts.CURRENT).write_text(broken.name + "\n")

        third = shop.train("hybrid", make_current=False)
        shutil.copytree(third, models / third.name)
        artifacts.set_current(models, third.name)
        wait_until(lambda: hammer.seen(third.name), message="the third model to be served")
        # Enough traffic to mean something, however slow a loaded machine made the switches.
        wait_until(lambda: len(hammer.results) > 100, message="over 100 answered requests")

    assert hammer.failures == []
    assert len(hammer.results) > 100
    order = [first.name, second.name, third.name]
    # Each switch happens once: a request started after another finished never gets an older
    # model. (Across threads, completion order may interleave: a request that took the old
    # model just before a switch can finish after one that took the new model.)
    for thread, served in enumerate(hammer.by_thread):
        positions = [order.index(m) for m in served]
        assert positions == sorted(positions), f"thread {thread} went back to an older model"
    assert {m for served in hammer.by_thread for m in served} == set(order)
    assert server.get("/model").json()["model_id"] == third.name
    assert 'shop_api_model_reloads_total{result="loaded"}' in server.get("/metrics").text
