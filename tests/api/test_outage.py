"""The database goes away and comes back: recommendations keep coming from memory, events get a
clear 503, and both recover."""

from __future__ import annotations

import pytest

from shopcore import embedded
from tests.api.support import ApiServer, Shop, new_user, view, wait_until


def assert_no_paths(text: str, shop: Shop) -> None:
    """What clients see names the database, never where it lives: no socket path, no SHOP_HOME."""
    for leak in (str(shop.home), str(shop.home.resolve()), ".s.PGSQL", "socket", "/tmp"):
        assert leak not in text, (leak, text)


@pytest.mark.slow
def test_database_outage_and_recovery(start_server, shop: Shop) -> None:
    server: ApiServer = start_server()  # embedded mode: it re-resolves the server on reconnect
    user_id = shop.query("select user_id from marts.user_item_interactions group by user_id "
                         "having count(*) between 3 and 12 order by user_id limit 1")[0][0]
    product_id = shop.query("select product_id from marts.products order by product_id limit 1")[0][0]
    newcomer = new_user(shop)
    assert server.get("/health/ready").status_code == 200
    before = server.get(f"/recommendations/{user_id}").json()

    embedded.stop(shop.home)
    try:
        # (A first ping may hang until its own bound: "did not answer within 1 s". Then: unreachable.)
        ready = wait_until(lambda: (r := server.get("/health/ready")).status_code == 503
                           and "unreachable" in r.text and r, message="readiness to report the outage")
        assert ready.json()["checks"]["database"]["ok"] is False
        assert ready.json()["checks"]["database"]["detail"] == 'the database "shop" is unreachable'
        assert_no_paths(ready.text, shop)
        assert ready.json()["checks"]["model"]["ok"] is True

        during = server.get(f"/recommendations/{user_id}")
        assert during.status_code == 200
        assert during.json()["strategy"] == "personalised"
        assert during.json()["items"] == before["items"]
        assert server.get("/recommendations/987654321").json()["strategy"] == "popular"
        assert server.get(f"/products/{product_id}/similar").status_code == 200
        assert server.get("/products/popular").status_code == 200
        assert server.get("/health/live").status_code == 200
        assert server.get("/model").status_code == 200

        refused = server.post("/events", json=view(newcomer, product_id))
        assert refused.status_code == 503
        assert refused.json()["detail"] == 'the database "shop" is unreachable; nothing was written, retry later'
        assert_no_paths(refused.text, shop)
        assert refused.headers["retry-after"]
        assert "shop_api_database_up 0.0" in server.get("/metrics").text
    finally:
        embedded.start(shop.home)

    wait_until(lambda: server.get("/health/ready").status_code == 200, message="readiness after the outage")
    # Every other server of the session (the shared one included) is back on the database too, so
    # that the tests after this one, in whatever order, start from a reachable database.
    for other in start_server.servers:
        if other.process.poll() is None:
            wait_until(lambda o=other: o.get("/health/ready").json()["checks"]["database"]["ok"],
                       message=f"the server on port {other.port} to reconnect")
    accepted = wait_until(lambda: (r := server.post("/events", json=view(newcomer, product_id))).status_code == 201
                          and r, message="events to be accepted again")
    after = server.get(f"/recommendations/{newcomer}").json()
    assert after["strategy"] == "personalised" and after["fresh_events"] == 1
    assert shop.query("select count(*) from raw.interactions where event_id = %s",
                      (accepted.json()["event_ids"][0],)) == [(1,)]
    # What was served during the outage was kept in memory and written once the database was back.
    wait_until(lambda: shop.query("select 1 from raw.served_recommendations where request_id = %s",
                                  (during.json()["request_id"],)), message="the outage's served log")
