"""The closed loop's simulated users: they click what they like, near the top, and nothing from the future."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from simulator.closed_loop import ClosedLoop, Served, attention, click_probability
from simulator.generate import new_state
from simulator.params import SimulationParams
from simulator.world import World, build_world

END = datetime(2025, 12, 15, tzinfo=timezone.utc)
END_US = int(END.timestamp() * 1e6)
MINUTE_US = 60_000_000


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(SimulationParams(users=400, products=200, days=30, end=END))


def _ranked(world: World, user_index: int, best: bool) -> np.ndarray:
    """The user's 10 most liked products (a recommender that knows tastes) or 10 products drawn
    at random (one that ignores them), as product ids."""
    if best:
        order = np.argsort(-world.affinity(user_index), kind="stable")
    else:
        order = np.random.default_rng(user_index).permutation(world.n_products)
    return world.products.product_id[order[:10]]


def _run(world: World, best: bool, sessions: int = 600, seed: int = 7):
    rng = np.random.default_rng(seed)
    asked: list[int] = []

    def fetch(user_id: int) -> Served:
        asked.append(user_id)
        return Served("good" if best else "bad", _ranked(world, user_id - 1, best))

    loop = ClosedLoop(world, new_state(world), fetch, rng, max_sessions_per_tick=sessions)
    loop.start_sessions(sessions, END_US)
    return loop, asked


def test_attention_falls_with_rank_and_clicks_follow_taste(world):
    assert np.all(np.diff(attention(np.arange(10))) < 0)
    liked = _ranked(world, 0, best=True) - 1
    disliked = np.argsort(world.affinity(0), kind="stable")[:10]
    assert click_probability(world, 0, liked).sum() > 2 * click_probability(world, 0, disliked).sum()


def test_a_recommender_that_knows_tastes_earns_more_clicks_and_orders(world):
    good, asked = _run(world, best=True)
    bad, _ = _run(world, best=False)
    assert len(asked) == 600 and good.stats.answered == 600
    far_future = END_US + 24 * 60 * MINUTE_US
    good_events, bad_events = good.release(far_future), bad.release(far_future)
    good_views = np.count_nonzero(good_events.event_type == "view")
    bad_views = np.count_nonzero(bad_events.event_type == "view")
    assert good_views > 2 * bad_views > 0
    assert np.count_nonzero(good_events.has_order) > np.count_nonzero(bad_events.has_order)
    assert set(good_events.recommendation_variant) == {"good"}


def test_events_wait_for_their_moment_and_arrive_within_a_second(world):
    loop, _ = _run(world, best=True, sessions=200)
    pending = len(loop.pending)
    assert pending > 0
    first = loop.release(END_US + MINUTE_US)
    assert 0 < len(first) < pending
    occurred = first.occurred_at.astype(np.int64)
    loaded = first.loaded_at.astype(np.int64)
    assert occurred.max() < END_US + MINUTE_US and np.all(np.diff(occurred) >= 0)
    assert np.all(loaded >= occurred) and np.all(loaded < END_US + MINUTE_US)
    assert np.all(loaded - occurred <= 1_000_000)
    rest = loop.release(END_US + 24 * 60 * MINUTE_US)
    assert len(first) + len(rest) == pending and len(loop.pending) == 0


def test_orders_carry_an_order_id_and_never_rebuy_an_owned_durable(world):
    loop, _ = _run(world, best=True, sessions=600)
    events = loop.release(END_US + 24 * 60 * MINUTE_US)
    buys = events.event_type == "purchase"
    assert np.array_equal(buys, events.has_order)
    assert np.all(events.order_id[buys].any(axis=1))
    durable = ~world.products.is_consumable[events.product_id[buys] - 1]
    pairs = list(zip(events.user_id[buys][durable].tolist(), events.product_id[buys][durable].tolist()))
    assert len(pairs) == len(set(pairs))


def test_an_unreachable_api_starts_no_session_and_emits_nothing(world):
    from simulator.closed_loop import ApiRecommendations

    source = ApiRecommendations("http://127.0.0.1:9", timeout_s=0.5)  # the discard port: nothing listens
    loop = ClosedLoop(world, new_state(world), source, np.random.default_rng(1))
    loop.start_sessions(3, END_US)
    assert loop.stats.sessions == 3 and loop.stats.answered == 0 and source.failures == 3
    assert "Error" in (source.last_error or "")
    assert len(loop.release(END_US + MINUTE_US)) == 0
