"""The recommendation hot path serves precomputed and cached answers: they must equal what the
engine computes live (TrainedModel.recommend), change as soon as a user's fresh events do, and be
logged once per impression, with the right values, in raw.served_recommendations."""

from __future__ import annotations

import shutil
import uuid

import pytest

from recommender import artifacts
from tests.api.support import ApiServer, Shop, new_user, untouched_users, view, wait_until


@pytest.fixture(scope="module")
def engine(shop: Shop):
    """The model the shared server serves, loaded by the engine itself."""
    return artifacts.load(artifacts.current_path(shop.models_dir))


def known_users(shop: Shop, n: int) -> list[int]:
    """The most active users that no test has sent events for (their answers have no fresh events)."""
    return untouched_users(shop, n)


def ranked(body: dict) -> list[tuple[int, float]]:
    return [(item["product_id"], item["score"]) for item in body["items"]]


def expected(engine, user_id: int, k: int, events=()) -> list[tuple[int, float]]:
    return [(r.product_id, round(r.score, 6)) for r in engine.recommend(user_id, k, events)]


def assert_same_ranking(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    assert [p for p, _ in got] == [p for p, _ in want]
    # The API keeps scores as float32 and both sides round to 6 decimals: up to 1e-6 apart (plus
    # float error) for the same score.
    assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-5, abs=2e-6)


@pytest.mark.parametrize("k", [1, 10, 37])
def test_served_answers_equal_the_engines_live_computation(server: ApiServer, shop: Shop, engine, k: int) -> None:
    users = known_users(shop, 12)
    for user_id in users:
        first = server.get(f"/recommendations/{user_id}", params={"k": k}).json()
        again = server.get(f"/recommendations/{user_id}", params={"k": k}).json()  # from the answer cache
        assert first["strategy"] == "personalised"
        assert_same_ranking(ranked(first), expected(engine, user_id, k))
        assert again["items"] == first["items"]
        assert again["request_id"] == first["request_id"]  # the same answer within the window: one impression


def test_unknown_users_answer_equals_the_popular_list(server: ApiServer, engine) -> None:
    for user_id in (987_654_320, 987_654_321):
        body = server.get(f"/recommendations/{user_id}", params={"k": 6}).json()
        assert body["strategy"] == "popular" and body["fresh_events"] == 0
        assert [i["product_id"] for i in body["items"]] == [r.product_id for r in engine.popular(6)]


def test_each_fresh_event_changes_the_cached_answer_to_the_engines_fold_in(
        server: ApiServer, shop: Shop, engine) -> None:
    user_id = known_users(shop, 40)[-1]
    before = server.get(f"/recommendations/{user_id}", params={"k": 15}).json()
    server.get(f"/recommendations/{user_id}", params={"k": 15})  # cached now
    seen = {r[0] for r in shop.query("select product_id from marts.user_item_interactions where user_id = %s",
                                     (user_id,))}
    unseen = [r[0] for r in shop.query("select product_id from marts.products order by product_id")
              if r[0] not in seen]
    events: list[tuple[int, str]] = []
    previous = before
    for product_id, kind in ((unseen[0], "add_to_cart"), (unseen[-1], "view")):
        assert server.post("/events", json=view(user_id, product_id, kind)).status_code == 201
        events.append((product_id, kind))
        after = server.get(f"/recommendations/{user_id}", params={"k": 15}).json()
        assert after["fresh_events"] == len(events)
        assert after["items"] != previous["items"]
        assert_same_ranking(ranked(after), expected(engine, user_id, 15, events))
        previous = after
    # A different k for the same events is its own answer, consistent with the engine too.
    assert_same_ranking(ranked(server.get(f"/recommendations/{user_id}", params={"k": 4}).json()),
                        expected(engine, user_id, 4, events))


def test_every_impression_is_logged_once_with_its_values(start_server, shop: Shop) -> None:
    server = start_server()  # its own impressions: none of them was served by an earlier test
    newcomer = new_user(shop)
    requests = [(u, k) for u in known_users(shop, 5) for k in (3, 10)] + [(987_654_322, 5), (newcomer, 2)]
    start = shop.query("select now()")[0][0]
    bodies = [server.get(f"/recommendations/{u}", params={"k": k}).json() for u, k in requests * 2]
    first, repeats = bodies[:len(requests)], bodies[len(requests):]
    ids = [b["request_id"] for b in first]
    assert len(set(ids)) == len(ids)
    assert [b["request_id"] for b in repeats] == ids  # the same answers again: the same impressions
    assert all(uuid.UUID(i).version == 4 for i in ids)

    def logged():
        rows = shop.query("select request_id::text, user_id, variant, model_id, strategy, product_ids, served_at "
                          "from raw.served_recommendations where request_id = any(%s::uuid[])", (ids,))
        return rows if len(rows) >= len(ids) else None

    rows = wait_until(logged, message="every served answer in raw.served_recommendations")
    end = shop.query("select now()")[0][0]
    assert len(rows) == len(ids)
    by_id = {r[0]: r for r in rows}
    for body in bodies:
        _, user_id, variant, model_id, strategy, product_ids, served_at = by_id[body["request_id"]]
        assert (user_id, variant, model_id, strategy) == (body["user_id"], body["variant"], body["model_id"],
                                                          body["strategy"])
        assert product_ids == [i["product_id"] for i in body["items"]]
        assert start <= served_at <= end


@pytest.mark.slow
def test_ab_variants_answer_and_log_their_own_lists(start_server, shop: Shop) -> None:
    """One variant on the popularity baseline (no model id), one on the current model; each list is
    logged with the split it was served under (the sample-ratio check's expected shares)."""
    server = start_server(SHOP_API_VARIANTS="control=popular:1,treatment=current:3")
    users = known_users(shop, 60)
    bodies = [server.get(f"/recommendations/{u}", params={"k": 5}).json() for u in users]
    by_variant = {b["variant"] for b in bodies}
    assert by_variant == {"control", "treatment"}
    for body in bodies:
        again = server.get(f"/recommendations/{body['user_id']}", params={"k": 5}).json()
        assert again["variant"] == body["variant"] and again["items"] == body["items"]
        if body["variant"] == "control":
            assert body["model_id"] is None and body["strategy"] == "popular"
        else:
            assert body["model_id"] and body["strategy"] == "personalised"
    ids = [b["request_id"] for b in bodies]
    rows = wait_until(lambda: (r := shop.query(
        "select request_id::text, variant, model_id, strategy, variant_weights from raw.served_recommendations "
        "where request_id = any(%s::uuid[])", (ids,))) and len(r) == len(ids) and r,
        message="the A/B answers in raw.served_recommendations")
    split = {"control": 1, "treatment": 3}
    assert sorted(rows) == sorted((b["request_id"], b["variant"], b["model_id"], b["strategy"], split) for b in bodies)


def test_plain_and_other_spellings_of_a_request_get_the_same_answer(server: ApiServer, shop: Shop) -> None:
    """Plain requests (/recommendations/7?k=5) skip FastAPI's parameter machinery; every other
    spelling goes through it. Both must mean the same thing and reject the same things."""
    user_id = known_users(shop, 3)[-1]

    def items(path: str) -> list:
        response = server.get(path)
        assert response.status_code == 200, (path, response.text)
        assert response.json()["user_id"] == user_id
        return response.json()["items"]

    plain = items(f"/recommendations/{user_id}?k=5")
    for other in (f"/recommendations/0{user_id}?k=5", f"/recommendations/{user_id}?k=05",
                  f"/recommendations/{user_id}?k=%35", f"/recommendations/{user_id}?k=5&utm_source=mail",
                  f"/recommendations/{user_id}?utm_source=mail&k=5", f"/recommendations/%3{str(user_id)[0]}"
                  f"{str(user_id)[1:]}?k=5"):
        assert items(other) == plain, other
    assert items(f"/recommendations/{user_id}") == items(f"/recommendations/{user_id}?k=10")
    assert len(items(f"/recommendations/{user_id}?k=100")) == len(items(f"/recommendations/{user_id}?k=0100"))
    biggest = server.get(f"/recommendations/{2**63 - 1}?k=1")
    assert biggest.status_code == 200 and biggest.json()["strategy"] == "popular"
    for bad, loc in ((f"/recommendations/{user_id}?k=101", "k"), (f"/recommendations/{user_id}?k=0", "k"),
                     (f"/recommendations/{user_id}?k=1000", "k"), (f"/recommendations/{user_id}?k=", "k"),
                     (f"/recommendations/{2**63}?k=5", "user_id"), ("/recommendations/0?k=5", "user_id"),
                     ("/recommendations/\u0661\u0662?k=5", "user_id")):
        response = server.get(bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["detail"][0]["loc"][-1] == loc, (bad, response.text)


def test_a_collaborative_winner_folds_fresh_events_in(start_server, shop: Shop, tmp_path) -> None:
    """Whatever `auto` serves folds fresh events in: here ALS, whose user factors are recomputed
    from the folded row (implicit's recalculate_user), not read from training."""
    home = tmp_path / "home"
    models = home / "models"
    models.mkdir(parents=True)
    trained = shop.train("als", make_current=False, factors=16, iterations=5)
    shutil.copytree(trained, models / trained.name)
    artifacts.set_current(models, trained.name)
    server = start_server(SHOP_HOME=str(home), SHOP_DATABASE_URL=shop.info.url())
    als = artifacts.load(models / trained.name)
    assert server.get("/model").json()["card"]["algorithm"] == "als"
    user_id = known_users(shop, 60)[-1]
    before = server.get(f"/recommendations/{user_id}", params={"k": 10}).json()
    assert_same_ranking(ranked(before), expected(als, user_id, 10))
    unseen = [r[0] for r in shop.query(
        "select product_id from marts.products where product_id not in "
        "(select product_id from marts.user_item_interactions where user_id = %s) order by product_id", (user_id,))]
    events = [(unseen[0], "add_to_cart"), (unseen[1], "add_to_cart")]
    for product_id, kind in events:
        assert server.post("/events", json=view(user_id, product_id, kind)).status_code == 201
    after = server.get(f"/recommendations/{user_id}", params={"k": 10}).json()
    assert after["fresh_events"] == 2 and after["items"] != before["items"]
    assert_same_ranking(ranked(after), expected(als, user_id, 10, events))
    assert all(item["reason"] for item in after["items"])
