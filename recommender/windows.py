"""Where the evaluation cuts a shop's history: windows sized by the data, or each user's last basket.

Two protocols:

- ``temporal`` (default): one cut-off for everybody. By default the test window holds the last
  ``test_share`` of the events and validation the share before it, each widened (in steps, up to
  ``MAX_SHARE``) until it holds ``min_users`` users with history before it and a positive in it,
  where the shop has them. A week of history and years of it get windows of the same weight, which
  fixed day counts cannot give. ``--test-days`` / ``--validation-days`` override with fixed windows.
- ``last-basket``: each user's last basket is their test, the basket before it their validation
  (leave-last-basket-out). A basket is a user's carts and purchases with no gap longer than
  ``BASKET_GAP`` between them (the sessions rule of the warehouse and of `shop import`). Training
  data for a user ends where their held-out basket starts; other users keep all their events.

Parameters are tuned on a window before validation (pipeline.py cuts it: the window as long as
validation before it, or each user's basket before their validation basket). ``MIN_USERS`` is the
one minimum for every window: test and validation widen towards it (and the report warns when they
fall short), and a tuning window that falls short of it is not used: parameters are then selected on
validation itself, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from recommender.evaluation import NotEnoughHistory, Split, SplitPoints, split_of, split_points
from recommender.matrix import Catalogue, Events, IdMap, WeightConfig, build_data
from shopcore.events import ADD_TO_CART, PURCHASE

Protocol = Literal["temporal", "last-basket"]
PROTOCOLS: tuple[str, ...] = ("temporal", "last-basket")

TEST_SHARE = 0.10
VALIDATION_SHARE = 0.10
# Users to evaluate (history before the window, a cart or purchase in it) that a window needs before
# the order of algorithms on it is more than noise: for the test, validation and tuning windows alike.
MIN_USERS = 200
MAX_SHARE = 0.30  # of all events per window: training keeps at least the remaining share
SHARE_STEP = 0.05
BASKET_GAP_US = 30 * 60 * 1_000_000


@dataclass(frozen=True)
class WindowChoice:
    """How the windows were chosen, for the evaluation's report."""

    protocol: str
    sized_by: str  # "data" (shares widened to min_users), "days" (fixed) or "baskets"
    test_share: float | None = None
    validation_share: float | None = None


def is_positive(events: Events) -> np.ndarray:
    return (events.event_type == ADD_TO_CART) | (events.event_type == PURCHASE)


def users_to_evaluate(events: Events, start_us: int, end_us: int) -> int:
    """Users with any event before ``start_us`` and a cart or purchase in ``[start_us, end_us)``."""
    window = (events.occurred_us >= start_us) & (events.occurred_us < end_us) & is_positive(events)
    candidates = np.unique(events.user_id[window])
    if len(candidates) == 0:
        return 0
    earlier = np.unique(events.user_id[events.occurred_us < start_us])
    return int(np.isin(candidates, earlier, assume_unique=True).sum())


def data_sized_points(
    events: Events, *, test_share: float = TEST_SHARE, validation_share: float = VALIDATION_SHARE,
    min_users: int = MIN_USERS,
) -> tuple[SplitPoints, WindowChoice]:
    """Cut-offs at event quantiles: the test window the last ``test_share`` of the events (widened
    until it holds ``min_users`` users to evaluate, or up to MAX_SHARE), validation the share before it."""
    if len(events) == 0:
        raise NotEnoughHistory("there are no events to split")
    moments = np.sort(events.occurred_us)
    end = int(moments[-1]) + 1

    def cut_at(share_from_end: float) -> int:
        return int(moments[min(len(moments) - 1, int(round((1.0 - share_from_end) * len(moments))))])

    def widen(share: float, already: float, window_end: int) -> tuple[float, int]:
        while True:
            cut = cut_at(already + share)
            if users_to_evaluate(events, cut, window_end) >= min_users or share + SHARE_STEP > MAX_SHARE + 1e-9:
                return share, cut
            share = round(share + SHARE_STEP, 4)

    test_share, test_cut = widen(test_share, 0.0, end)
    validation_share, validation_cut = widen(validation_share, test_share, test_cut)
    if validation_cut <= int(moments[0]) or validation_cut >= test_cut or test_cut >= end:
        raise NotEnoughHistory(
            f"{len(events):,} events at {len(np.unique(moments))} distinct moments cannot be cut into training "
            "history, a validation window and a test window")
    return SplitPoints(validation_cut, test_cut, end), WindowChoice("temporal", "data", test_share, validation_share)


def temporal_points(
    events: Events, *, test_days: float | None, validation_days: float | None, min_users: int = MIN_USERS,
) -> tuple[SplitPoints, WindowChoice]:
    """Fixed windows when both day counts are given, else windows sized by the data."""
    if test_days is None and validation_days is None:
        return data_sized_points(events, min_users=min_users)
    if test_days is None or validation_days is None:
        raise ValueError("give both --test-days and --validation-days, or neither (windows sized by the data)")
    return split_points(events, test_days=test_days, validation_days=validation_days), WindowChoice("temporal", "days")


def basket_starts(events: Events) -> np.ndarray:
    """For each event, the start (µs) of the basket it belongs to; -1 for views. Events of one user
    whose positives follow each other within BASKET_GAP_US share a basket."""
    starts = np.full(len(events), -1, dtype=np.int64)
    positive = np.flatnonzero(is_positive(events))
    if len(positive) == 0:
        return starts
    order = positive[np.lexsort((events.occurred_us[positive], events.user_id[positive]))]
    users, moments = events.user_id[order], events.occurred_us[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (users[1:] != users[:-1]) | (moments[1:] - moments[:-1] > BASKET_GAP_US)
    first_of_basket = np.maximum.accumulate(np.where(new, np.arange(len(order)), 0))
    starts[order] = moments[first_of_basket]
    return starts


def last_basket_split(
    name: str, events: Events, catalogue: Catalogue, config: WeightConfig, items: IdMap,
) -> tuple[Split, Events]:
    """Each user's last basket (with events of theirs before it) as the positives; returns the split
    and the events left once those baskets and everything after them are held out."""
    starts = basket_starts(events)
    has_basket = starts >= 0
    if not has_basket.any():
        raise NotEnoughHistory("no carts or purchases: there is no basket to hold out")
    never = np.iinfo(np.int64).max
    users, inverse = np.unique(events.user_id, return_inverse=True)
    last = np.full(len(users), -1, dtype=np.int64)
    np.maximum.at(last, inverse[has_basket], starts[has_basket])
    first_event = np.full(len(users), never, dtype=np.int64)
    np.minimum.at(first_event, inverse, events.occurred_us)
    evaluated = (last >= 0) & (first_event < last)  # some history before the held-out basket
    history = events.take(events.occurred_us < np.where(evaluated, last, never)[inverse])
    in_last_basket = evaluated[inverse] & (starts == last[inverse])
    data = build_data(history.aggregate(), catalogue, config, items=items,
                      reference_us=int(history.occurred_us.max()) + 1 if len(history) else 0)
    held_starts = last[evaluated]
    cutoff = int(held_starts.min()) if len(held_starts) else int(events.occurred_us.max()) + 1
    return split_of(name, data, events.take(in_last_basket), items, cutoff, int(events.occurred_us.max()) + 1), history
