"""Nothing waits forever: a lock or a full pool is a quick 503 "busy, retry" that writes nothing
and leaves the API serving; a stalled request body is answered 408 and dropped; an idle keep-alive
connection is closed; a client that goes away mid-body is neither a 500 nor a traceback.

The client timeouts below are liveness guards (a hung request fails the test instead of the run),
not measurements."""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid

import httpx
import pytest

from tests.api.support import ApiServer, Shop, new_user, view, wait_until

GUARD_S = 20  # longer than any server-side bound used here, far shorter than "forever"


@pytest.fixture(scope="module")
def tight(start_server) -> ApiServer:
    return start_server(SHOP_API_LOCK_TIMEOUT_S="0.5", SHOP_API_BODY_TIMEOUT_S="1", SHOP_API_KEEP_ALIVE_S="1")


@pytest.fixture(scope="module")
def product_id(shop: Shop) -> int:
    return shop.query("select product_id from raw.products order by product_id limit 1")[0][0]


def count_events(shop: Shop, event_ids: list[str]) -> int:
    return shop.query("select count(*) from raw.interactions where event_id = any(%s::uuid[])", (event_ids,))[0][0]


def assert_healthy_after(server: ApiServer, shop: Shop, product_id: int) -> None:
    """The API still writes (its pool was not closed) and says it is ready."""
    ok = server.post("/events", json=view(new_user(shop), product_id))
    assert ok.status_code == 201, ok.text
    assert server.get("/health/ready").status_code == 200
    assert "shop_api_database_up 1.0" in server.get("/metrics").text


def test_a_locked_table_is_a_quick_503_busy_and_writes_nothing(tight: ApiServer, shop: Shop, product_id: int) -> None:
    event = view(new_user(shop), product_id, event_id=str(uuid.uuid4()))
    with shop.connect() as locker:
        locker.execute("lock table raw.interactions in share row exclusive mode")  # blocks inserts, not reads
        response = tight.post("/events", json=event, timeout=GUARD_S)
        locker.rollback()
    assert response.status_code == 503, response.text
    detail = response.json()["detail"]
    assert "busy" in detail and "lock" in detail and "nothing was written" in detail and "retry" in detail, detail
    assert "unreachable" not in detail
    assert int(response.headers["retry-after"]) >= 1
    assert_healthy_after(tight, shop, product_id)  # a later write went through, so the refused one is not pending
    assert count_events(shop, [event["event_id"]]) == 0


def test_posts_beyond_the_pool_get_busy_and_the_api_keeps_serving(start_server, shop: Shop, product_id: int) -> None:
    server = start_server(SHOP_API_POOL_SIZE="2", SHOP_API_POOL_WAIT_S="0.5", SHOP_API_LOCK_TIMEOUT_S="30",
                          SHOP_API_STATEMENT_TIMEOUT_S="60")
    user_id = new_user(shop)
    results: list[httpx.Response | Exception] = []
    lock = threading.Lock()

    def post() -> None:
        try:
            r = httpx.post(f"{server.url}/events", json=view(user_id, product_id), timeout=GUARD_S * 2)
        except httpx.HTTPError as exc:
            r = exc
        with lock:
            results.append(r)

    threads = [threading.Thread(target=post) for _ in range(8)]
    with shop.connect() as locker:
        locker.execute("lock table raw.interactions in share row exclusive mode")
        locker_pid = locker.info.backend_pid
        for t in threads:
            t.start()
        # At most two POSTs hold the pool's connections, waiting on the lock; the others are refused.
        wait_until(lambda: len(results) >= 6, timeout=GUARD_S, message="the POSTs beyond the pool to be answered")
        # What the database saw while the lock was held: if a POST got through it, the evidence
        # (this rare failure's cause is not known yet) is in the assertion's message below.
        with shop.connect(autocommit=True) as observer:
            seen = observer.execute(
                "select pid, datname, state, wait_event_type, left(query, 60) from pg_stat_activity"
                " where backend_type = 'client backend' and pid <> %s", (locker_pid,)).fetchall()
            held = observer.execute(
                "select pid, mode, granted from pg_locks where relation = 'raw.interactions'::regclass").fetchall()
        locker.rollback()
    for t in threads:
        t.join(timeout=GUARD_S * 2)
    assert all(isinstance(r, httpx.Response) for r in results), results
    statuses = sorted(r.status_code for r in results)
    busy = [r for r in results if r.status_code == 503]
    evidence = {"answers": [(r.status_code, r.text) for r in results], "locker": locker_pid,
                "locks": held, "backends": seen, "server log": server.log()[-2000:]}
    assert len(busy) >= 6 and set(statuses) <= {201, 503}, evidence
    for r in busy:
        assert "busy" in r.json()["detail"] and "unreachable" not in r.json()["detail"], r.text
        assert int(r.headers["retry-after"]) >= 1
    assert_healthy_after(server, shop, product_id)
    assert "shop_api_database_up 1.0" in server.get("/metrics").text


def _raw_connection(server: ApiServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=GUARD_S)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection (or the guard fails the test)."""
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


STALLED = (b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           b"Content-Length: 1000\r\n\r\n{\"session_id\": ")


def test_stalled_bodies_are_answered_408_and_dropped(tight: ApiServer, shop: Shop, product_id: int) -> None:
    sockets = [_raw_connection(tight) for _ in range(40)]
    try:
        for sock in sockets:
            sock.sendall(STALLED)
        answers = [_read_all(sock) for sock in sockets]  # returns only once the server closed each one
    finally:
        for sock in sockets:
            sock.close()
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert b"did not arrive within 1 s" in answer, answer
    assert_healthy_after(tight, shop, product_id)
    metrics = tight.get("/metrics").text
    assert re.search(r'shop_api_requests_total\{method="POST",route="/events",status="408"\} ([0-9.]+)', metrics)
    assert 'route="/events",status="500"' not in metrics
    assert "Traceback" not in tight.log()


def test_a_client_that_disconnects_mid_body_is_not_a_server_error(tight: ApiServer) -> None:
    for _ in range(5):
        sock = _raw_connection(tight)
        sock.sendall(STALLED)
        time.sleep(0.05)  # let the server start reading the body (no assertion on time)
        sock.close()
    wait_until(lambda: 'route="/events",status="499"' in tight.get("/metrics").text,
               message="the disconnects to be counted")
    metrics = tight.get("/metrics").text
    assert 'route="/events",status="500"' not in metrics
    log = tight.log()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-3000:]


def test_idle_keep_alive_connections_are_closed(tight: ApiServer) -> None:
    sock = _raw_connection(tight)
    try:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = _read_all(sock)  # the server closes the idle connection after SHOP_API_KEEP_ALIVE_S
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b'{"status":"ok"}'), answer
