"""POST /events against hostile bodies: deep nesting, NUL bytes, lone surrogates, numbers out of
range, booleans for integers. Each is a 4xx with a clear message, nothing of the batch is written,
and a fuzz test over these classes of input never sees a 5xx."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.support import ApiServer, Shop, new_user, view


def post_text(server: ApiServer, text: str | bytes) -> object:
    body = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return server.post("/events", content=body, headers={"content-type": "application/json"})


def messages(response) -> list[tuple[tuple, str]]:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    detail = response.json()["detail"]
    if isinstance(detail, str):
        return [((), detail)]
    return [(tuple(e["loc"]), e["msg"]) for e in detail]


def written(shop: Shop, event_ids: list[str]) -> int:
    return shop.query("select count(*) from raw.interactions where event_id = any(%s::uuid[])", (event_ids,))[0][0]


@pytest.fixture(scope="module")
def product_id(shop: Shop) -> int:
    return shop.query("select product_id from raw.products order by product_id limit 1")[0][0]


@pytest.mark.parametrize("text", [
    "[" * 1000 + "]" * 1000,
    '{"a":' * 1000 + "1" + "}" * 1000,
    "[" * 200_000 + "]" * 200_000,
    '{"session_id": ' + "[" * 5000 + "]" * 5000 + "}",
])
def test_deeply_nested_json_is_refused(server: ApiServer, text: str) -> None:
    response = post_text(server, text)
    assert response.status_code == 422, response.text[:300]
    assert any("nested" in m and "deep" in m for _, m in messages(response)), response.text[:300]


def test_a_nul_byte_in_one_event_refuses_the_batch_and_writes_nothing(server: ApiServer, shop: Shop,
                                                                       product_id: int) -> None:
    user_id = new_user(shop)
    batch = [view(user_id, product_id, event_id=str(uuid.uuid4()), recommendation_variant="default")
             for _ in range(1000)]
    batch[517]["recommendation_variant"] = "default\x00"
    response = server.post("/events", json=batch)
    assert response.status_code == 422, response.text[:300]
    assert any(loc == ("body", 517, "recommendation_variant") and "NUL" in m for loc, m in messages(response))
    assert written(shop, [e["event_id"] for e in batch]) == 0


@pytest.mark.parametrize("field", ["event_type", "recommendation_variant"])
@pytest.mark.parametrize("bad", ["\x00", "view\x00", "\ud800", "vi\udfffew"])
def test_nul_and_lone_surrogates_are_refused_in_every_string_field(server: ApiServer, shop: Shop, product_id: int,
                                                                   field: str, bad: str) -> None:
    event = {**view(new_user(shop), product_id), field: bad}
    response = post_text(server, json.dumps(event))  # ensure_ascii: "\ud800" travels as a JSON escape
    assert response.status_code == 422, response.text[:300]
    assert any(loc == ("body", field) and ("NUL" in m or "surrogate" in m) for loc, m in messages(response)), \
        response.text


@pytest.mark.parametrize("key", ["\ud800", "a\x00"])
def test_hostile_keys_are_refused_with_a_readable_answer(server: ApiServer, shop: Shop, product_id: int,
                                                          key: str) -> None:
    event = {**view(new_user(shop), product_id), key: 1}
    response = post_text(server, json.dumps(event))
    assert response.status_code == 422, response.text[:300]
    assert messages(response)


@pytest.mark.parametrize("field", ["user_id", "product_id", "quantity", "unit_price"])
@pytest.mark.parametrize("number", ["1e400", "-1e400", "1E+999"])
def test_numbers_that_are_not_finite_are_refused(server: ApiServer, shop: Shop, product_id: int,
                                                 field: str, number: str) -> None:
    event = json.dumps({**view(new_user(shop), product_id), field: "PLACEHOLDER"})
    response = post_text(server, event.replace('"PLACEHOLDER"', number))
    assert response.status_code == 422, response.text[:300]
    assert any("finite" in m for _, m in messages(response)), response.text


@pytest.mark.parametrize("field", ["user_id", "product_id", "quantity", "unit_price"])
@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_not_numbers(server: ApiServer, shop: Shop, product_id: int, field: str, value: bool) -> None:
    user_id = new_user(shop)
    event = {**view(user_id, product_id, event_id=str(uuid.uuid4())), field: value}
    response = server.post("/events", json=event)
    assert response.status_code == 422, response.text[:300]
    assert any(loc == ("body", field) for loc, _ in messages(response)), response.text
    assert written(shop, [event["event_id"]]) == 0


def test_integers_stay_integers(server: ApiServer, shop: Shop, product_id: int) -> None:
    """Strict: a whole number is a JSON number, not a string nor a number with a fraction. (42.0 is
    the number 42: JSON Schema's "integer" accepts it, and so does the server.)"""
    user_id = new_user(shop)
    for value in (str(user_id), user_id + 0.5):
        response = server.post("/events", json={**view(user_id, product_id), "user_id": value})
        assert response.status_code == 422, (value, response.text)
    event = {**view(user_id, product_id, event_id=str(uuid.uuid4())), "user_id": float(user_id)}
    assert server.post("/events", json=event).status_code == 201
    assert shop.query("select user_id from raw.interactions where event_id = %s", (event["event_id"],)) == [
        (user_id,)]


# ---------------------------------------------------------------------------------------- fuzzing

HOSTILE_TEXT = st.sampled_from(["\x00", "\ud800", "\udfff", "a\x00b", "\ufeff", "\u202e", "", " ", "x" * 70,
                                "view\ud83d", "\ud83d\ude00"])
SCALARS = st.one_of(
    st.sampled_from(["true", "false", "null", "1e400", "-1e400", "1e-400", "-0", "0", "1.5", "9" * 30,
                     "-" + "9" * 30, "12345678901234567890", "[]", "{}", "NaN", "Infinity", "1" * 5000]),
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(max_size=20).map(json.dumps),
    HOSTILE_TEXT.map(json.dumps),
    st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=1, max_value=3000).map(lambda n: '{"a":' * n + "0" + "}" * n),
)
FIELDS = st.one_of(st.sampled_from(["event_id", "session_id", "user_id", "product_id", "event_type", "quantity",
                                    "unit_price", "order_id", "recommendation_variant", "occurred_at"]),
                   st.text(max_size=8), HOSTILE_TEXT)


@pytest.mark.slow
def test_fuzzed_hostile_events_never_get_a_server_error(server: ApiServer, shop: Shop, product_id: int) -> None:
    user_id = new_user(shop)

    @given(changes=st.lists(st.tuples(FIELDS, SCALARS), min_size=1, max_size=3), batch=st.booleans(),
           copies=st.integers(min_value=1, max_value=50))
    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def fuzz(changes: list[tuple[str, str]], batch: bool, copies: int) -> None:
        base = {k: json.dumps(v) for k, v in view(user_id, product_id).items()}
        for field, value in changes:
            base[field] = value
        event = "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in base.items()) + "}"
        text = "[" + ",".join([event] * copies) + "]" if batch else event
        response = post_text(server, text)
        assert response.status_code < 500, (text[:300], response.status_code, response.text[:300])
        assert response.status_code in (201, 413, 422), (text[:300], response.status_code, response.text[:300])
        assert response.json()  # a readable JSON answer, whatever the input

    fuzz()
