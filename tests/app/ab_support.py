"""A closed-loop run against the real recommendation API, and its log as the A/B units of
marts.recommendation_variant_daily (a user's day in a variant), for the A/B statistics' tests."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from psycopg import sql

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
    """The run's A/B units, as marts.recommendation_variant_daily counts them: one per user and variant
    (the run lasts minutes, so a user's day in a variant), or one per user when arms are re-drawn."""

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
    """Per arm, the sums marts.recommendation_variant_daily keeps (arm `arms[i]` for unit i)."""
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


# Two arms' sums for a page to show: the model's click-through 1.5 times popular's, 60 purchases each
# (revenue per list gets its interval), and new users as a 1:1 split would give them.
PAGE_ARMS = {
    "popular": {"users": 2000, "new_users": 1010, "impressions": 3000, "clicked_lists": 300, "clicks": 390,
                "purchases": 60, "revenue": 3000.0, "lists_squared": 5200, "clicked_lists_squared": 420,
                "lists_clicked_lists": 480, "revenue_squared": 410000.0, "lists_revenue": 4600.0},
    "model": {"users": 2000, "new_users": 990, "impressions": 3000, "clicked_lists": 450, "clicks": 610,
              "purchases": 60, "revenue": 3600.0, "lists_squared": 5200, "clicked_lists_squared": 700,
              "lists_clicked_lists": 720, "revenue_squared": 520000.0, "lists_revenue": 5500.0},
}
MART_COLUMNS = ("users", "new_users", "impressions", "clicked_lists", "clicks", "purchases", "revenue",
                "lists_squared", "clicked_lists_squared", "lists_clicked_lists", "revenue_squared", "lists_revenue")


@contextmanager
def variant_rows(shop, day, arms: dict[str, dict[str, float]]) -> Iterator[None]:
    """The arms' sums as rows of marts.recommendation_variant_daily on `day`, removed afterwards."""
    columns = sql.SQL(", ").join(map(sql.Identifier, ("activity_date", "variant", *MART_COLUMNS)))
    values = sql.SQL(", ").join([sql.Placeholder()] * (2 + len(MART_COLUMNS)))
    insert = sql.SQL("insert into marts.recommendation_variant_daily ({}) values ({})").format(columns, values)
    with shop.database.connect() as conn:
        for name, row in arms.items():
            conn.execute(insert, (day, name, *(row[column] for column in MART_COLUMNS)))
        conn.commit()
    try:
        yield
    finally:
        with shop.database.connect() as conn:
            conn.execute("delete from marts.recommendation_variant_daily where activity_date = %s and variant = any(%s)",
                         (day, list(arms)))
            conn.commit()
