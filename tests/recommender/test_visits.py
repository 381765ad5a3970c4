"""Visits per category, rebuilt from the pair rows' first and last times, and their fold-in."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.matrix import Catalogue, Events, WeightConfig, build_data, fold_in
from recommender.visits import VISIT_GAP_US, category_visits

MINUTE = 60 * 1_000_000


def _events(rows: list[tuple[int, int, int, float]]) -> Events:
    """rows of (user_id, product_id, event_type, minute)"""
    a = np.array(rows, dtype=np.float64)
    at = (a[:, 3] * MINUTE).astype(np.int64)
    return Events(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].astype(np.int8),
                  np.ones(len(a), dtype=np.int32), at, at + 5)


CATALOGUE = Catalogue(np.array([1, 2, 3, 4]), np.array(["a", "a", "b", "b"]))


def test_a_visit_counts_once_per_category_shared_among_its_items() -> None:
    day = 24 * 60
    data = build_data(_events([
        # visit 1: two items of a (one of them viewed three times) and one of b
        (1, 1, 0, 0), (1, 1, 0, 1), (1, 1, 0, 2), (1, 2, 0, 5), (1, 3, 0, 10),
        # visit 2, a day later: item 1 again (its last time) -- a alone
        (1, 1, 0, day),
        # user 2: one visit, two items of b
        (2, 3, 0, 0), (2, 4, 1, 3),
    ]).aggregate(), CATALOGUE, WeightConfig())
    visits = data.visits.toarray()
    np.testing.assert_allclose(visits[0], [0.5 + 1.0, 0.5, 1.0, 0.0])
    np.testing.assert_allclose(visits[1], [0.0, 0.0, 0.5, 0.5])
    # Summed over a category's items: the visits that touched it (user 1: a twice, b once).
    assert visits[0, :2].sum() == pytest.approx(2.0) and visits[0, 2:].sum() == pytest.approx(1.0)
    # A view count would weigh the long first visit's item 1 four times.
    assert data.strength[0, 0] > 3 * data.strength[0, 1]


def test_quiet_gaps_split_visits() -> None:
    gap_minutes = VISIT_GAP_US / MINUTE
    row, col = np.array([0, 0, 0]), np.array([0, 1, 2])
    first = np.array([0, 1, 1 + gap_minutes + 1], dtype=np.int64) * MINUTE
    out = category_visits(row, col, first, first, np.array([0, 0, 0]), (1, 3)).toarray()[0]
    np.testing.assert_allclose(out, [0.5, 0.5, 1.0])  # the third touch came after a quiet gap


def test_fresh_events_are_one_more_visit() -> None:
    data = build_data(_events([(1, 1, 0, 0), (1, 3, 0, 1)]).aggregate(), CATALOGUE,
                      WeightConfig(half_life_days=None))
    rows = fold_in(data, 1, np.array([2, 1, 4, 999]), np.array([0, 1, 0, 0]))
    np.testing.assert_allclose(rows.visits.toarray()[0], [1.0 + 0.5, 0.5, 1.0, 1.0])
    stranger = fold_in(data, 42, np.array([3, 4]), np.array([0, 0]))
    np.testing.assert_allclose(stranger.visits.toarray()[0], [0.0, 0.0, 0.5, 0.5])
    # The model's data are not changed by a fold-in.
    np.testing.assert_allclose(data.visits.toarray(), [[1.0, 0.0, 1.0, 0.0]])


def test_rows_carry_the_visits_of_their_users() -> None:
    data = build_data(_events([(1, 1, 0, 0), (2, 3, 0, 0), (2, 4, 0, 0)]).aggregate(), CATALOGUE,
                      WeightConfig())
    rows = data.rows(np.array([1]))
    np.testing.assert_allclose(rows.visits.toarray(), [[0.0, 0.0, 0.5, 0.5]])
