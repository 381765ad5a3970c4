"""A closed-loop run against the real recommendation API, and its log as the A/B units of
marts.recommendation_user_days (a user in a variant), for the A/B statistics' tests; planted arms
for the pages."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from psycopg import sql
from psycopg.types.json import Jsonb

from simulator import loader
from simulator.closed_loop import ApiRecommendations, ClosedLoop, Served
from simulator.generate import new_state
from simulator.runner import restore_world
from simulator.batch import EventBatch

DAY_US = 86_400 * 1_000_000


@dataclass(frozen=True)
class LoopLog:
    """What a closed-loop run served (one entry per list: user, variant) and the events that followed."""

    lists: list[tuple[int, str]]
    events: EventBatch


def run_closed_loop(conn, api_url: str, sessions: int, seed: int = 1) -> LoopLog:
    """`sessions` closed-loop sessions of the shop in `conn`'s database, each asking the API at `api_url`."""
    state = loader.raw_state(conn)
    world = restore_world(conn, state.last_run["parameters"])
    source = ApiRecommendations(api_url, timeout_s=10)
    lists: list[tuple[int, str]] = []

    def recording(user_id: int) -> Served | None:
        served = source(user_id)
        if served is not None:
            lists.append((user_id, served.variant))
        return served

    now_us = int(datetime.now(timezone.utc).timestamp() * 1e6)
    loop = ClosedLoop(world, new_state(world), recording, np.random.default_rng(seed),
                      max_sessions_per_tick=sessions)
    loop.start_sessions(sessions, now_us)
    assert source.failures == 0, source.last_error
    return LoopLog(lists, loop.release(now_us + DAY_US))


@dataclass(frozen=True)
class Units:
    """The run's A/B units, as app/queries.variant_performance counts them: one per user and variant,
    or one per user when arms are re-drawn."""

    user: np.ndarray
    variant: np.ndarray
    lists: np.ndarray
    clicked: np.ndarray  # lists clicked: each loop session answers one list, so its sessions with a view
    purchases: np.ndarray
    revenue: np.ndarray


def log_units(log: LoopLog, *, per_user: bool = False) -> Units:
    totals: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for user, variant in log.lists:
        totals[(user, "" if per_user else variant)][0] += 1
    events = log.events
    clicked_sessions = set()
    for user, variant, session, kind, quantity, cents in zip(
        events.user_id.tolist(), events.recommendation_variant.tolist(), map(bytes, events.session_id),
        events.event_type.tolist(), events.quantity.tolist(), events.unit_price_cents.tolist(), strict=True,
    ):
        unit = totals[(user, "" if per_user else variant)]
        if kind == "view" and session not in clicked_sessions:  # the loop writes canonical spellings
            clicked_sessions.add(session)
            unit[1] += 1
        elif kind == "purchase":
            unit[2] += 1
            unit[3] += quantity * cents / 100
    keys, values = list(totals), np.array(list(totals.values()), dtype=float).reshape(-1, 4)
    return Units(np.array([user for user, _ in keys]), np.array([variant for _, variant in keys], dtype=object),
                 *values.T)


def arm_sums(units: Units, arms: np.ndarray) -> dict[str, dict[str, float]]:
    """Per arm, the sums app/queries.variant_performance gives (arm `arms[i]` for unit i)."""
    sums = {}
    for arm in sorted(set(arms.tolist())):
        at = arms == arm
        lists, clicked, revenue = units.lists[at], units.clicked[at], units.revenue[at]
        sums[arm] = {
            "users": float(at.sum()), "new_users": float((lists > 0).sum()), "impressions": lists.sum(),
            "clicked_lists": clicked.sum(), "purchases": units.purchases[at].sum(), "revenue": revenue.sum(),
            "lists_squared": (lists * lists).sum(), "clicked_lists_squared": (clicked * clicked).sum(),
            "lists_clicked_lists": (lists * clicked).sum(), "revenue_squared": (revenue * revenue).sum(),
            "lists_revenue": (lists * revenue).sum(),
        }
    return sums


def hashed_arms(users: np.ndarray, seed: int) -> np.ndarray:
    """A/A: each user to arm A or B by a seeded hash of the user id, whatever variant served them."""
    return np.array([
        "A" if hashlib.blake2b(f"{seed}:{user}".encode(), digest_size=8).digest()[0] & 1 else "B"
        for user in users.tolist()
    ], dtype=object)


def page_arms() -> dict[str, list[tuple[int, int, int, int, float, int]]]:
    """Two arms' users for a page to show, each (user_id, lists, clicked lists, purchases, revenue,
    first day): 2,000 users an arm with one or two lists, the model's lists clicked 1.5 times as
    often as popular's, 60 purchases each (revenue per list gets its interval: $1.00 and $1.20), and
    new users as a 1:1 split would give them (1,010 and 990)."""
    rng = np.random.default_rng(20)
    arms = {}
    for offset, (name, click_rate, price, new) in enumerate(
            [("popular", 0.10, 50.0, 1010), ("model", 0.15, 60.0, 990)]):
        lists = 1 + np.arange(2000) % 2
        clicked = rng.binomial(lists, click_rate)
        buyers = np.arange(2000) < 60
        arms[name] = [(20_000_000 + offset * 10_000 + i, int(lists[i]), int(clicked[i]), int(buyers[i]),
                       price * buyers[i], int(i < new)) for i in range(2000)]
    return arms


PAGE_UNITS = page_arms()


def unit_sums(arms: dict[str, list[tuple[int, int, int, int, float, int]]]) -> dict[str, dict[str, float]]:
    """Per arm, the sums app/queries.variant_performance gives for these users (one unit each)."""
    sums = {}
    for name, rows in arms.items():
        _, lists, clicked, purchases, revenue, first = (np.array(column, dtype=float) for column in zip(*rows))
        sums[name] = {
            "users": float(len(rows)), "new_users": first.sum(), "impressions": lists.sum(),
            "clicked_lists": clicked.sum(), "purchases": purchases.sum(), "revenue": revenue.sum(),
            "lists_squared": (lists * lists).sum(), "clicked_lists_squared": (clicked * clicked).sum(),
            "lists_clicked_lists": (lists * clicked).sum(), "revenue_squared": (revenue * revenue).sum(),
            "lists_revenue": (lists * revenue).sum(),
        }
    return sums


PAGE_ARMS = unit_sums(PAGE_UNITS)

_USER_DAY = sql.SQL(
    "insert into marts.recommendation_user_days (activity_date, variant, user_id, lists, clicked_lists, clicks, "
    "add_to_carts, purchases, revenue, is_first_day, is_first_list, first_list_weights, has_lists, has_outcomes) "
    "values (%s, %s, %s, %s, %s, %s, 0, %s, %s, %s, %s, %s, true, %s)")
# The day's row of each planted arm, added up from its users' rows as the mart adds them up.
_VARIANT_DAY = sql.SQL(
    "insert into marts.recommendation_variant_daily (activity_date, variant, impressions, clicked_lists, "
    "click_through, clicks, add_to_carts, purchases, revenue, users, new_users) "
    "select activity_date, variant, sum(lists), sum(clicked_lists), sum(clicked_lists)::numeric / sum(lists), "
    "sum(clicks), sum(add_to_carts), sum(purchases), sum(revenue), count(*), sum(is_first_day) "
    "from marts.recommendation_user_days where activity_date = %s and variant = any(%s) "
    "group by activity_date, variant")


@contextmanager
def variant_rows(shop, day, arms: dict[str, list[tuple[int, int, int, int, float, int]]],
                 weights: dict[str, float] | None = None) -> Iterator[None]:
    """The arms' users as rows of marts.recommendation_user_days on `day` (a first day is the user's
    entry into the experiment, under `weights` when given: the split the API recorded), and their sums
    as rows of marts.recommendation_variant_daily, removed afterwards."""
    recorded = Jsonb(weights) if weights is not None else None
    with shop.database.connect() as conn:
        with conn.cursor() as cur:
            cur.executemany(_USER_DAY, [
                (day, name, user, lists, clicked, clicked, purchases, revenue, first, first,
                 recorded if first else None, purchases > 0)
                for name, rows in arms.items() for user, lists, clicked, purchases, revenue, first in rows
            ])
        conn.execute(_VARIANT_DAY, (day, list(arms)))
        conn.commit()
    try:
        yield
    finally:
        with shop.database.connect() as conn:
            for table in ("recommendation_user_days", "recommendation_variant_daily"):
                conn.execute(sql.SQL("delete from {} where activity_date = %s and variant = any(%s)").format(
                    sql.Identifier("marts", table)), (day, list(arms)))
            conn.commit()
