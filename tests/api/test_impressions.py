"""Impressions: what GET /recommendations writes to raw.served_recommendations is bounded.
The same answer to the same user within SHOP_API_IMPRESSION_WINDOW_S is one impression (one row,
one request id); at most SHOP_API_IMPRESSIONS_PER_S rows a second are logged, and of those at
most SHOP_API_UNKNOWN_IMPRESSIONS_PER_S for users the API has no history of; what is dropped is
counted in /metrics. (README: "Impressions and A/B counting".)"""

from __future__ import annotations

import random
import re

from tests.api.support import ApiServer, Shop, untouched_users, view, wait_until


def known_users(shop: Shop, n: int) -> list[int]:
    """Users with history that no test has sent events for (the least active first)."""
    return untouched_users(shop, n, most_active=False)


def rows_since(shop: Shop, start, users: list[int]) -> list[tuple]:
    return shop.query("select request_id::text, user_id, product_ids from raw.served_recommendations "
                      "where served_at >= %s and user_id = any(%s) order by served_at", (start, users))


def counter(server: ApiServer, name: str, **labels: str) -> float:
    text = server.get("/metrics").text
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(label_text) + r"\}" if labels else "") + r" ([0-9.e+]+)"
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


def ids_of(body: dict) -> list[int]:
    return [item["product_id"] for item in body["items"]]


def flushed_through(server: ApiServer, shop: Shop, marker_user: int) -> None:
    """Serve a marker impression and wait until it is written: the log is written in order, so
    every impression logged before it is in the table by then."""
    body = server.get(f"/recommendations/{marker_user}", params={"k": 1}).json()
    wait_until(lambda: shop.query("select 1 from raw.served_recommendations where request_id = %s",
                                  (body["request_id"],)), message="the marker impression in the table")


def test_repeats_within_the_window_are_one_impression(start_server, shop: Shop) -> None:
    server = start_server(SHOP_API_IMPRESSION_WINDOW_S="600")
    user, marker = known_users(shop, 2)
    product_ids = [r[0] for r in shop.query("select product_id from marts.products order by product_id desc")]
    start = shop.query("select now()")[0][0]
    answers = [server.get(f"/recommendations/{user}", params={"k": 5}).json() for _ in range(10)]
    assert len({a["request_id"] for a in answers}) == 1
    assert counter(server, "shop_api_impressions_repeated_total") >= 9
    other_k = server.get(f"/recommendations/{user}", params={"k": 6}).json()  # another answer: a new impression
    assert other_k["request_id"] != answers[0]["request_id"]
    # Events folded in: the same products shown again are the same impression, other products a new one.
    seen = {r[0] for r in shop.query("select product_id from marts.user_item_interactions where user_id = %s",
                                     (user,))}
    unseen = [p for p in product_ids if p not in seen]
    changed = None
    for n, product_id in enumerate(unseen[:10], start=1):
        assert server.post("/events", json=view(user, product_id, "add_to_cart")).status_code == 201
        after = server.get(f"/recommendations/{user}", params={"k": 5}).json()
        assert after["fresh_events"] >= n
        if ids_of(after) == ids_of(answers[0]):  # scores and reasons may change; the products shown did not
            assert after["request_id"] == answers[0]["request_id"]
        else:
            changed = after
            break
    assert changed is not None and changed["request_id"] != answers[0]["request_id"]
    flushed_through(server, shop, marker)
    rows = rows_since(shop, start, [user])
    assert [r[0] for r in rows] == [answers[0]["request_id"], other_k["request_id"], changed["request_id"]]
    assert rows[0][2] == ids_of(answers[0]) and rows[-1][2] == ids_of(changed)


def test_the_same_answer_after_the_window_is_a_new_impression(start_server, shop: Shop) -> None:
    server = start_server(SHOP_API_IMPRESSION_WINDOW_S="0.5")
    user, marker = known_users(shop, 2)
    start = shop.query("select now()")[0][0]
    first = server.get(f"/recommendations/{user}", params={"k": 4}).json()
    later = wait_until(lambda: (b := server.get(f"/recommendations/{user}", params={"k": 4}).json())["request_id"]
                       != first["request_id"] and b, message="the window to pass")
    assert later["items"] == first["items"]
    flushed_through(server, shop, marker)
    assert [r[0] for r in rows_since(shop, start, [user])] == [first["request_id"], later["request_id"]]


def test_window_zero_logs_every_answer(start_server, shop: Shop) -> None:
    server = start_server(SHOP_API_IMPRESSION_WINDOW_S="0")
    user, marker = known_users(shop, 2)
    start = shop.query("select now()")[0][0]
    ids = [server.get(f"/recommendations/{user}", params={"k": 3}).json()["request_id"] for _ in range(4)]
    assert len(set(ids)) == 4
    flushed_through(server, shop, marker)
    assert [r[0] for r in rows_since(shop, start, [user])] == ids


def test_the_ceilings_bound_what_is_logged_and_count_what_is_dropped(start_server, shop: Shop) -> None:
    # One row's worth of tokens, refilled once in 1,000 s: the first new impression is logged and
    # every later one dropped, whatever the speed of this test. Unknown ids: never logged.
    server = start_server(SHOP_API_IMPRESSIONS_PER_S="0.001", SHOP_API_UNKNOWN_IMPRESSIONS_PER_S="0")
    start = shop.query("select now()")[0][0]
    rng = random.Random(3)
    made_up = [rng.randint(10**12, 10**13) for _ in range(200)]
    for user_id in made_up:
        response = server.get(f"/recommendations/{user_id}")
        assert response.status_code == 200 and response.json()["strategy"] == "popular"
    assert counter(server, "shop_api_served_log_dropped_total", reason="unknown_rate") == 200
    users = known_users(shop, 5)
    bodies = [server.get(f"/recommendations/{u}", params={"k": 2}).json() for u in users]
    assert all(b["strategy"] == "personalised" for b in bodies)
    rows = wait_until(lambda: rows_since(shop, start, users), message="the one impression within the ceiling")
    assert [r[0] for r in rows] == [bodies[0]["request_id"]]
    assert counter(server, "shop_api_served_log_dropped_total", reason="rate") == 4
    # The flush that wrote the first row has run; nothing else is pending (dropped rows never are).
    assert shop.query("select count(*) from raw.served_recommendations where served_at >= %s "
                      "and (user_id = any(%s) or user_id = any(%s))", (start, made_up, users)) == [(1,)]
    assert server.get("/health/ready").status_code == 200
