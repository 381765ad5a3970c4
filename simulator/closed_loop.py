"""The closed loop: in live mode a share of sessions starts from the recommendation API.

Such a session asks ``GET /recommendations/{user_id}`` (as a storefront would on the home page),
then the simulated user looks down the list: each recommended product is clicked (viewed) with a
probability that grows with the user's ground-truth affinity for it and falls with its rank, a
clicked product goes to the cart as in an organic session, and a cart may become an order. Every
event of such a session carries the ``recommendation_variant`` the API named, so the warehouse can
measure click-through and revenue per variant; a model that knows the users' tastes better earns
more clicks, because the simulated users click what they like.

The session unfolds over the next minutes of real time: its events wait in ``ClosedLoop.pending``
until their moment has come, so the stream never emits an event from the future.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import numpy as np

from shopcore.events import ADD_TO_CART, PURCHASE, VIEW
from shopcore.timeunits import US_PER_SECOND
from simulator.batch import EVENT_TYPE_SPELLINGS, EventBatch
from simulator.generate import ROWS_PER_MEAN_VIEW, user_rates
from simulator.ids import uuid4_bytes
from simulator.sessions import SessionRows, _quantity, owned_durables, record_purchases
from simulator.state import SimulationState
from simulator.world import World

_GAP_MEDIAN_S = 20.0  # between clicks on a list: shorter than organic browsing gaps
_MAX_LOAD_DELAY_US = US_PER_SECOND  # a loop event reaches the database within a second


@dataclass(frozen=True)
class Served:
    """One answer of the API: the variant that served it and the products, best first."""

    variant: str
    product_ids: np.ndarray


class ApiRecommendations:
    """Asks a running recommendation API; an unreachable or failing API answers None."""

    def __init__(self, base_url: str, *, k: int = 10, timeout_s: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.k = k
        self.timeout_s = timeout_s
        self.failures = 0
        self.last_error: str | None = None

    def __call__(self, user_id: int) -> Served | None:
        url = f"{self.base_url}/recommendations/{int(user_id)}?k={self.k}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as response:  # noqa: S310 - our own API
                body = json.load(response)
            ids = np.array([int(item["product_id"]) for item in body["items"]], dtype=np.int64)
            return Served(variant=str(body.get("variant") or "default"), product_ids=ids)
        except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError) as exc:
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            return None


def attention(rank: np.ndarray) -> np.ndarray:
    """How much of a user's attention the product at 0-based ``rank`` gets (1 at the top)."""
    return 1.0 / np.log2(rank + 2.0)


def click_probability(world: World, user_index: int, product_index: np.ndarray) -> np.ndarray:
    """P(click) of each recommended product, in list order: taste times position."""
    p = world.params
    affinity = world.pair_affinity(np.full(len(product_index), user_index), product_index)
    liking = 1.0 / (1.0 + np.exp(-(p.loop_click_bias + p.loop_click_affinity_slope * affinity)))
    return liking * attention(np.arange(len(product_index)))


def respond(
    world: World,
    state: SimulationState,
    user_index: int,
    product_index: np.ndarray,
    start_us: int,
    rng: np.random.Generator,
) -> SessionRows:
    """The events of one user reacting to one recommendation list shown at ``start_us``."""
    p = world.params
    clicked = product_index[rng.random(len(product_index)) < click_probability(world, user_index, product_index)]
    n_v = len(clicked)
    gaps = (np.clip(rng.lognormal(np.log(_GAP_MEDIAN_S), 0.8, n_v), 2.0, 600.0) * US_PER_SECOND).astype(np.int64)
    first_click_us = int(rng.uniform(1, 8) * US_PER_SECOND)
    v_time = start_us + first_click_us + np.concatenate(([0], np.cumsum(gaps)[:-1])).astype(np.int64) \
        if n_v else np.empty(0, dtype=np.int64)
    users = np.full(n_v, user_index, dtype=np.int64)

    # Carts as in an organic session; one in `intent_share` arrives meaning to buy.
    intent = rng.random() < p.intent_share
    affinity = world.pair_affinity(users, clicked)
    logit = p.cart_bias + p.cart_intent_boost * intent + p.cart_affinity_slope * affinity
    carted = np.flatnonzero((rng.random(n_v) * (1.0 + np.exp(-logit)) < 1.0)
                            & ~owned_durables(world, state, users, clicked))
    c_prod = clicked[carted]
    c_time = v_time[carted] + (rng.uniform(0.2, 0.8, len(carted)) * gaps[carted]).astype(np.int64)
    c_qty = _quantity(world, c_prod, rng)

    # Checkout of the still-wanted lines (owned durables never reached the cart).
    lines = np.empty(0, dtype=np.int64)
    if len(carted) and rng.random() < (p.checkout_intent if intent else p.checkout_browse):
        keep = rng.random(len(carted)) < p.line_keep
        keep[0] = True
        lines = np.flatnonzero(keep)[: p.max_order_lines]
    n_c, n_l = len(carted), len(lines)
    end_us = (v_time[-1] + gaps[-1]) if n_v else start_us
    checkout_at = end_us + int(rng.uniform(20, 180) * US_PER_SECOND)
    return SessionRows(
        session=np.zeros(n_v + n_c + n_l, dtype=np.int64),
        user=np.full(n_v + n_c + n_l, user_index, dtype=np.int64),
        product=np.concatenate((clicked, c_prod, c_prod[lines])).astype(np.int64),
        event_type=np.concatenate((np.full(n_v, VIEW), np.full(n_c, ADD_TO_CART), np.full(n_l, PURCHASE))).astype(np.int8),
        quantity=np.concatenate((np.ones(n_v, dtype=np.int32), c_qty, c_qty[lines])).astype(np.int32),
        occurred_us=np.concatenate((v_time, c_time, np.full(n_l, checkout_at, dtype=np.int64))),
        order=np.concatenate((np.full(n_v + n_c, -1), np.zeros(n_l))).astype(np.int64),
        n_sessions=1,
        n_orders=1 if n_l else 0,
    )


@dataclass
class LoopStats:
    sessions: int = 0  # lists asked for
    answered: int = 0  # lists the API served
    events: int = 0  # events emitted with a variant
    by_variant: dict[str, int] = field(default_factory=dict)  # lists served per variant


class ClosedLoop:
    """Starts recommendation sessions and releases their events as their moments come."""

    def __init__(self, world: World, state: SimulationState, fetch, rng: np.random.Generator,
                 *, max_sessions_per_tick: int = 50) -> None:
        self.world, self.state, self.fetch, self.rng = world, state, fetch, rng
        self.max_sessions_per_tick = max_sessions_per_tick
        self.stats = LoopStats()
        self.pending = EventBatch.empty()
        self._index_of = {int(pid): i for i, pid in enumerate(world.products.product_id)}

    def sessions_due(self, organic_events: int) -> int:
        """How many loop sessions to start beside a window that emitted ``organic_events``:
        ``loop_share`` of all sessions, at the organic events-per-session ratio."""
        share = self.world.params.loop_share
        if share <= 0 or organic_events <= 0:
            return 0
        per_session = self.world.params.mean_views_per_session * ROWS_PER_MEAN_VIEW
        expected = organic_events / per_session * share / max(1e-9, 1.0 - share)
        return min(int(self.rng.poisson(expected)), self.max_sessions_per_tick)

    def pick_users(self, n: int, at_us: int) -> np.ndarray:
        """``n`` signed-up users, drawn by how often they visit (like organic sessions)."""
        active, rate = user_rates(self.world, at_us, at_us)
        if n == 0 or len(active) == 0 or rate.sum() <= 0:
            return np.empty(0, dtype=np.int64)
        return self.rng.choice(active, size=n, p=rate / rate.sum())

    def start_sessions(self, n: int, now_us: int) -> None:
        index_of = self._index_of
        for user_index in self.pick_users(n, now_us):
            self.stats.sessions += 1
            served = self.fetch(int(self.world.users.user_id[user_index]))
            if served is None:
                continue
            self.stats.answered += 1
            self.stats.by_variant[served.variant] = self.stats.by_variant.get(served.variant, 0) + 1
            products = np.array([index_of[pid] for pid in served.product_ids.tolist() if pid in index_of],
                                dtype=np.int64)
            rows = respond(self.world, self.state, int(user_index), products, now_us, self.rng)
            if len(rows.occurred_us) == 0:
                continue
            record_purchases(self.world, self.state, rows, self.rng)
            self.pending = EventBatch.concat([self.pending, self._materialise(rows, served.variant)])

    def release(self, now_us: int) -> EventBatch:
        """The loop events that have happened by ``now_us``, sorted by time; the rest wait."""
        occurred = self.pending.occurred_at.astype(np.int64)
        due = occurred < now_us
        out, self.pending = self.pending.take(np.flatnonzero(due)), self.pending.take(np.flatnonzero(~due))
        if len(out):
            out = out.take(np.argsort(out.occurred_at, kind="stable"))
            delay = (self.rng.uniform(0.05, 1.0, len(out)) * _MAX_LOAD_DELAY_US).astype(np.int64)
            loaded = np.minimum(out.occurred_at.astype(np.int64) + delay, now_us - 1)
            out.loaded_at = np.maximum(loaded, out.occurred_at.astype(np.int64)).view("datetime64[us]")
        self.stats.events += len(out)
        return out

    def _materialise(self, rows: SessionRows, variant: str) -> EventBatch:
        n = len(rows.occurred_us)
        world = self.world
        order_id = np.zeros((n, 16), dtype=np.uint8)
        has_order = rows.event_type == PURCHASE
        order_id[has_order] = uuid4_bytes(self.rng, 1)[0]
        return EventBatch(
            event_id=uuid4_bytes(self.rng, n),
            session_id=np.repeat(uuid4_bytes(self.rng, 1), n, axis=0),
            user_id=world.users.user_id[rows.user],
            product_id=world.products.product_id[rows.product],
            event_type=np.take(EVENT_TYPE_SPELLINGS, rows.event_type),  # canonical spellings
            quantity=rows.quantity,
            unit_price_cents=world.products.price_cents[rows.product],
            order_id=order_id,
            has_order=has_order,
            recommendation_variant=np.full(n, variant, dtype=object),
            occurred_at=rows.occurred_us.view("datetime64[us]"),
            loaded_at=rows.occurred_us.view("datetime64[us]"),  # set on release
        )
