"""Metric arithmetic against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.algorithms.base import top_k
from recommender.evaluation import ranking_metrics, truth_ndcg


def _pos(rows: list[list[int]], n_items: int = 10) -> sp.csr_matrix:
    m = np.zeros((len(rows), n_items), dtype=np.float32)
    for r, items in enumerate(rows):
        m[r, items] = 1
    return sp.csr_matrix(m)


def test_one_user_two_hits_of_three_positives() -> None:
    # Ranked [5, 1, 7, 2], positives {1, 2, 9}: hits at ranks 2 and 4.
    m = ranking_metrics(np.array([[5, 1, 7, 2]]), _pos([[1, 2, 9]]))
    assert m["precision"][0] == pytest.approx(2 / 4)
    assert m["recall"][0] == pytest.approx(2 / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m["ndcg"][0] == pytest.approx(dcg / idcg)
    # AP@4 = (P@2 + P@4) / min(3, 4) = (1/2 + 2/4) / 3
    assert m["ap"][0] == pytest.approx((0.5 + 0.5) / 3)


def test_perfect_and_empty_rankings() -> None:
    m = ranking_metrics(np.array([[3, 4, 0], [0, 1, 2]]), _pos([[3, 4], [7]]))
    assert m["ndcg"][0] == pytest.approx(1.0)  # both positives on top: ideal
    assert m["ap"][0] == pytest.approx(1.0)
    assert m["recall"][0] == pytest.approx(1.0)
    assert m["precision"][0] == pytest.approx(2 / 3)
    assert m["ndcg"][1] == 0 and m["ap"][1] == 0 and m["recall"][1] == 0 and m["precision"][1] == 0


def test_more_positives_than_k_caps_the_ideal() -> None:
    # k = 2 and 5 positives: ideal DCG counts only 2 slots, so two hits are perfect.
    m = ranking_metrics(np.array([[0, 1]]), _pos([[0, 1, 2, 3, 4]]))
    assert m["ndcg"][0] == pytest.approx(1.0)
    assert m["ap"][0] == pytest.approx(1.0)
    assert m["recall"][0] == pytest.approx(2 / 5)


def test_truth_ndcg_uses_exponential_gains() -> None:
    affinity = np.array([[0.0, math.log(0.5), -50.0, math.log(0.25)]])
    # gains exp(a - max): [1, 0.5, ~0, 0.25]; ranking [1, 0] -> 0.5 + 1/log2(3)
    got = truth_ndcg(np.array([[1, 0]]), affinity)[0]
    assert got == pytest.approx((0.5 + 1 / math.log2(3)) / (1 + 0.5 / math.log2(3)))
    assert truth_ndcg(np.array([[0, 1]]), affinity)[0] == pytest.approx(1.0)


def test_top_k_orders_by_score_then_item() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.9, -1.0]])
    assert top_k(scores, 3).tolist() == [[1, 3, 2]]
    assert top_k(scores, 10).tolist() == [[1, 3, 2, 0, 4]]


def test_top_k_is_a_prefix_of_a_deeper_list_when_many_items_tie_at_the_cut() -> None:
    """The API cuts a user's list from a deeper one and the engine computes k directly: they agree
    only if ties at the k-th score go to the lower indices (argpartition alone keeps arbitrary ones)."""
    scores = np.round(np.random.default_rng(3).random((300, 400)), 1)  # many equal scores
    scores[:, 50:] = 0.0  # a user with fewer scored items than k: the rest tie at zero
    deep = top_k(scores, 400)
    for k in (1, 7, 37, 60, 399):
        assert (top_k(scores, k) == deep[:, :k]).all(), k
    # And the deep list is the full order by score, then item: ties crossing the cut or not.
    scores[::3, 40:] = -np.inf
    order = np.lexsort((np.broadcast_to(np.arange(400), scores.shape), -scores), axis=1)
    for k in (1, 37, 399, 400):
        assert (top_k(scores, k) == order[:, :k]).all(), k
