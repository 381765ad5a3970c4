"""Offline evaluation: a temporal split and ranking metrics over the full catalogue.

Train on everything that happened before a cut-off, test on what each user did after it:
their add-to-carts and purchases are the positives. Every item is ranked for every test user
(no sampled negatives), and bought items stay candidates, because re-buys are real positives.
Test users are those with history before the cut-off and a positive after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp

from recommender.algorithms.base import top_k
from recommender.matrix import (
    Catalogue,
    Events,
    IdMap,
    UserItemData,
    UserRows,
    WeightConfig,
    build_data,
)
from shopcore.errors import ShopError
from shopcore.events import ADD_TO_CART, PURCHASE
from shopcore.timeunits import US_PER_DAY

Scorer = Callable[[UserRows], np.ndarray]
Variant = Callable[[np.ndarray, UserRows], np.ndarray]
TruthFn = Callable[[np.ndarray, IdMap], np.ndarray]  # (user ids, items) -> affinity, NaN unknown

_BATCH = 512
TRUTH_USERS = 500  # ground-truth NDCG is averaged over at most this many test users


class NotEnoughHistory(ShopError, ValueError):
    """Too little history for a validation window, a test window and training data before them.

    Also a ValueError, as the evaluation's other complaints about its input are: callers that
    catch those keep working, and `shop demo` can fall back to training without an evaluation.
    """


@dataclass(frozen=True)
class Split:
    """Training data before ``cutoff_us`` and the positives of ``[cutoff_us, end_us)``."""

    name: str
    data: UserItemData
    cutoff_us: int
    end_us: int
    eval_rows: np.ndarray  # training row index of each test user
    positives: sp.csr_matrix  # test users x items, 1 where carted or bought in the window

    @property
    def eval_user_ids(self) -> np.ndarray:
        return self.data.users.ids[self.eval_rows]


@dataclass(frozen=True)
class SplitPoints:
    validation_cutoff_us: int
    test_cutoff_us: int
    end_us: int


def split_points(events: Events, *, test_days: float, validation_days: float) -> SplitPoints:
    """Cut-offs: the last ``test_days`` are the test window, the ``validation_days`` before them
    the validation window; there must be at least as much history before those."""
    if len(events) == 0:
        raise NotEnoughHistory("there are no events to split")
    end = int(events.occurred_us.max()) + 1
    test_cut = end - int(test_days * US_PER_DAY)
    val_cut = test_cut - int(validation_days * US_PER_DAY)
    first = int(events.occurred_us.min())
    if val_cut - first < (test_days + validation_days) * US_PER_DAY / 2:
        span = (end - first) / US_PER_DAY
        raise NotEnoughHistory(
            f"{span:.1f} days of events are too few for {validation_days:g} validation and {test_days:g} "
            "test days plus training history; import or simulate more days, or shorten the windows "
            "(--validation-days, --test-days)")
    return SplitPoints(val_cut, test_cut, end)


def temporal_split(
    name: str, events: Events, catalogue: Catalogue, config: WeightConfig,
    cutoff_us: int, end_us: int, items: IdMap,
) -> Split:
    history = events.occurred_before(cutoff_us)
    data = build_data(history.aggregate(), catalogue, config, items=items, reference_us=cutoff_us)
    return split_of(name, data, events.occurred_between(cutoff_us, end_us), items, cutoff_us, end_us)


def split_of(name: str, data: UserItemData, future: Events, items: IdMap, cutoff_us: int, end_us: int) -> Split:
    """The users of ``data`` with a cart or purchase among ``future`` events, and those positives."""
    positive = (future.event_type == ADD_TO_CART) | (future.event_type == PURCHASE)
    future = future.take(positive)
    row = data.users.index(future.user_id)
    col = items.index(future.product_id)
    ok = (row >= 0) & (col >= 0)
    users = np.unique(row[ok])
    local = np.searchsorted(users, row[ok])
    positives = sp.csr_matrix(
        (np.ones(int(ok.sum()), dtype=np.float32), (local, col[ok])), shape=(len(users), len(items)))
    positives.sum_duplicates()
    positives.data[:] = 1.0
    return Split(name, data, cutoff_us, end_us, users.astype(np.int64), positives)


@dataclass
class Metrics:
    precision: float
    recall: float
    ndcg: float
    map: float
    coverage: float
    truth_ndcg: float | None
    users: int
    # Recall split by what the hits are made of: items the user had bought before the window
    # (re-buys) and items they had not (new to them); None when no test user has such positives.
    recall_rebuy: float | None = None
    recall_new: float | None = None
    # Each test user's NDCG, in the split's user order: what paired bootstrap intervals resample.
    per_user_ndcg: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("per_user_ndcg")
        return out


def ranking_metrics(top: np.ndarray, positives: sp.csr_matrix) -> dict[str, np.ndarray]:
    """Per-user precision, recall, NDCG and average precision of ranked lists ``top`` (n x k
    item indices, best first) against binary ``positives`` (n x items)."""
    return _per_user(top, positives.toarray() > 0)


def _per_user(top: np.ndarray, dense: np.ndarray) -> dict[str, np.ndarray]:
    n, k = top.shape
    hits = np.take_along_axis(dense, top, axis=1).astype(np.float64)
    n_pos = dense.sum(axis=1).astype(np.float64)
    discount = 1.0 / np.log2(np.arange(k) + 2.0)
    ideal = np.concatenate(([0.0], np.cumsum(discount)))[np.minimum(n_pos, k).astype(int)]
    safe = lambda num, den: np.divide(num, den, out=np.zeros_like(num), where=den > 0)  # noqa: E731
    precision_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return {
        "precision": hits.sum(axis=1) / k,
        "recall": safe(hits.sum(axis=1), n_pos),
        "ndcg": safe((hits * discount).sum(axis=1), ideal),
        "ap": safe((precision_at * hits).sum(axis=1), np.minimum(n_pos, k)),
    }


def _recall(top: np.ndarray, dense: np.ndarray) -> np.ndarray:
    """Per-user recall of ``top`` against dense positives (0 for users without any)."""
    n_pos = dense.sum(axis=1)
    hits = np.take_along_axis(dense, top, axis=1).sum(axis=1)
    return np.divide(hits, n_pos, out=np.zeros(len(n_pos)), where=n_pos > 0)


def truth_ndcg(top: np.ndarray, affinity: np.ndarray) -> np.ndarray:
    """NDCG of ranked lists against true affinities: gain exp(affinity - the user's best), so a
    product as liked as the user's favourite counts 1 and much less liked ones almost 0."""
    n, k = top.shape
    finite = np.isfinite(affinity)
    best = np.where(finite, affinity, -np.inf).max(axis=1, keepdims=True)
    gain = np.where(finite, np.exp(affinity - best), 0.0)
    discount = 1.0 / np.log2(np.arange(k) + 2.0)
    dcg = (np.take_along_axis(gain, top, axis=1) * discount).sum(axis=1)
    ideal = (-np.sort(-gain, axis=1)[:, :k] * discount).sum(axis=1)
    return np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)


def evaluate_many(
    split: Split, scorer: Scorer, variants: Sequence[Variant] | None = None, *,
    k: int = 10, truth: TruthFn | None = None,
) -> list[Metrics]:
    """Metrics of ``variant(scorer(rows), rows)`` for each variant (default: the scores as they
    are); the base scores are computed once per batch, so variants cost only the ranking. With
    variants, ``scorer`` may return anything the variants understand (e.g. a tuple of arrays)."""
    variants = list(variants) if variants else [lambda scores, rows: scores]
    n_items = split.data.n_items
    sums = [dict(precision=0.0, recall=0.0, ap=0.0, rebuy=0.0, new=0.0) for _ in variants]
    ndcg = [np.zeros(len(split.eval_rows)) for _ in variants]
    shown = [np.zeros(n_items, dtype=bool) for _ in variants]
    truth_sum = [0.0 for _ in variants]
    n_users = len(split.eval_rows)
    with_rebuys = with_new = 0
    truth_pick = _truth_sample(n_users) if truth is not None else np.empty(0, dtype=np.int64)
    truth_n = len(truth_pick)
    for start in range(0, n_users, _BATCH):
        stop = min(start + _BATCH, n_users)
        rows = split.data.rows(split.eval_rows[start:stop])
        base = scorer(rows)
        positives = split.positives[start:stop].toarray() > 0
        rebuys = positives & (rows.purchases > 0).toarray()
        new = positives & ~rebuys
        with_rebuys += int(rebuys.any(axis=1).sum())
        with_new += int(new.any(axis=1).sum())
        local_truth = truth_pick[(truth_pick >= start) & (truth_pick < stop)] - start
        affinity = (truth(split.eval_user_ids[start + local_truth], split.data.items)
                    if truth is not None and len(local_truth) else None)
        for v, variant in enumerate(variants):
            # Variants get their own copy of array scores (other scorer outputs are passed as they are).
            scores = base.copy() if isinstance(base, np.ndarray) else base
            top = top_k(variant(scores, rows), k)
            per_user = _per_user(top, positives)
            for name in ("precision", "recall", "ap"):
                sums[v][name] += float(per_user[name].sum())
            ndcg[v][start:stop] = per_user["ndcg"]
            sums[v]["rebuy"] += float(_recall(top, rebuys).sum())
            sums[v]["new"] += float(_recall(top, new).sum())
            shown[v][top.ravel()] = True
            if affinity is not None:
                truth_sum[v] += float(truth_ndcg(top[local_truth], affinity).sum())
    out = []
    for v in range(len(variants)):
        denom = max(n_users, 1)
        out.append(Metrics(
            precision=sums[v]["precision"] / denom,
            recall=sums[v]["recall"] / denom,
            ndcg=float(ndcg[v].mean()) if n_users else 0.0,
            map=sums[v]["ap"] / denom,
            coverage=float(shown[v].sum()) / max(n_items, 1),
            truth_ndcg=truth_sum[v] / truth_n if truth is not None and truth_n else None,
            users=n_users,
            recall_rebuy=sums[v]["rebuy"] / with_rebuys if with_rebuys else None,
            recall_new=sums[v]["new"] / with_new if with_new else None,
            per_user_ndcg=ndcg[v],
        ))
    return out


def evaluate(split: Split, scorer: Scorer, *, k: int = 10, truth: TruthFn | None = None) -> Metrics:
    return evaluate_many(split, scorer, k=k, truth=truth)[0]


def _truth_sample(n_users: int) -> np.ndarray:
    """Evenly spread test users (positions), at most TRUTH_USERS: deterministic and cheap."""
    if n_users <= TRUTH_USERS:
        return np.arange(n_users)
    return np.unique(np.linspace(0, n_users - 1, TRUTH_USERS).astype(np.int64))
