"""Recommenders the routes call: a trained model prepared for serving, and the popularity baseline.

``ServingModel`` wraps the engine's ``TrainedModel`` (recommender.model). At load time, in a
worker thread, it ranks the top products of every known user in batches (the engine's own
``Algorithm.score`` and ``top_k``, so the lists equal ``TrainedModel.recommend``), so that a
request for a user without fresh events is an array look-up. A user's fresh events become item
indices once, at the edge, and are folded into their training row once
(``recommender.matrix.fold``): the model scores that row and the reasons read the same fold; the
ranked items become product ids once, for the answer. Nothing is cached here: the API state
keeps finished answers (``ApiState.answers``).
Reasons ("because you viewed X") come from item-to-item cosine similarity of the training
matrix, through a small truncated-SVD item embedding.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds
from threadpoolctl import threadpool_limits

from recommender.algorithms import top_k
from recommender.api.catalogue import UNKNOWN_CATEGORY, ProductCatalogue
from recommender.api.fresh import FreshEvent
from recommender.matrix import fold
from recommender.model import TrainedModel
from shopcore.events import EVENT_TYPES, PURCHASE

PRECOMPUTED = 100  # the largest k the API serves
EMBEDDING_DIM = 32
SCORE_BATCH = 512
_CODE = {name: code for code, name in enumerate(EVENT_TYPES)}
_VERBS = ("viewed", "added", "bought")  # by event code: a stronger event explains better
FRESH_WEIGHT = 1.5  # the anchor weight of an item with fresh events (training items: 0.5 to 1)
_NO_ITEMS = np.empty(0, dtype=np.int64)


class Reason(NamedTuple):
    kind: str  # rebuy, seen, anchor, popular, similar
    anchor: int | None = None  # product id
    verb: str | None = None  # viewed, added, bought


_REBUY, _SEEN, _POPULAR = Reason("rebuy"), Reason("seen"), Reason("popular")


class Ranked(NamedTuple):
    product_id: int
    score: float
    reason: Reason


def reason_text(reason: Reason, catalogue: ProductCatalogue, category: str) -> str:
    anchor = catalogue.products.get(reason.anchor) if reason.anchor is not None else None
    if reason.kind == "rebuy":
        return "buy it again: you bought this before"
    if reason.kind == "seen":
        return "you looked at this before"
    if reason.kind == "anchor" and anchor is not None:
        if reason.verb == "added":
            return f"because you added {anchor.name} to your cart"
        return f"because you {reason.verb or 'viewed'} {anchor.name}"
    if reason.kind == "similar" and anchor is not None:
        return f"similar to {anchor.name}"
    # Products of unknown category are a group of the catalogue, not a category a shopper knows.
    return f"popular in {category}" if category and category != UNKNOWN_CATEGORY else "popular right now"


class Recommender(Protocol):
    """What a route asks of the source of one variant's lists (a served model or the popularity
    baseline). Not ``recommender.algorithms.Ranker``, the learned ranking algorithm."""

    model_id: str | None
    watermark_us: int | None

    def personalised(self, user_id: int, fresh: Sequence[FreshEvent], k: int) -> list[Ranked] | None: ...
    def popular(self, k: int, category: str | None) -> list[Ranked]: ...
    def similar(self, product_id: int, k: int) -> tuple[list[Ranked], str] | None: ...


class PopularityRecommender:
    """The in-package baseline: popular products from the warehouse (no model needed)."""

    model_id = None
    watermark_us = None

    def __init__(self, catalogue: ProductCatalogue) -> None:
        self.catalogue = catalogue

    def personalised(self, user_id: int, fresh: Sequence[FreshEvent], k: int) -> list[Ranked] | None:
        return None

    def popular(self, k: int, category: str | None) -> list[Ranked]:
        return [Ranked(p, s, Reason("popular")) for p, s in self.catalogue.popular(k, category)]

    def similar(self, product_id: int, k: int) -> tuple[list[Ranked], str] | None:
        product = self.catalogue.products.get(product_id)
        if product is None:
            return None
        ranked = [Ranked(p, s, Reason("popular")) for p, s in self.catalogue.popular(k + 1, product.category)
                  if p != product_id][:k]
        return ranked, "popular_in_category"


def _contains(sorted_items: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Whether each of ``items`` is in ``sorted_items`` (sorted, as a CSR row's indices are)."""
    if not len(sorted_items):
        return np.zeros(len(items), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_items, items), len(sorted_items) - 1)
    return sorted_items[at] == items


def item_embedding(confidence: sp.csr_matrix, dim: int = EMBEDDING_DIM) -> np.ndarray:
    """Unit vectors per item whose dot products approximate the cosine similarity of the
    items' columns in the training matrix (who interacted with them)."""
    x = confidence.tocsc().astype(np.float64)
    n_users, n_items = x.shape
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    norms[norms == 0] = 1.0
    xn = x @ sp.diags(1.0 / norms)
    d = min(dim, min(n_users, n_items) - 1)
    if d < 1 or xn.nnz == 0:
        return np.zeros((n_items, 1), dtype=np.float32)
    with threadpool_limits(1, "blas"):
        _, s, vt = svds(xn, k=d, random_state=0)
    vectors = vt.T * s
    lengths = np.linalg.norm(vectors, axis=1, keepdims=True)
    lengths[lengths == 0] = 1.0
    return np.ascontiguousarray(vectors / lengths, dtype=np.float32)


class _History(NamedTuple):
    """The items that can explain a recommendation: the user's training row and fresh events."""

    items: np.ndarray  # item indices: the training row's, then those only in fresh events (first seen first)
    weights: np.ndarray  # float32, how much each counts as an anchor
    verbs: np.ndarray  # event code of each item's strongest event (training: bought, else viewed)
    bought: np.ndarray  # item indices the user bought (training row or fresh)


class _Folded(NamedTuple):
    """One user as a request sees them: their best items (indices, best first) and history."""

    ranked: np.ndarray  # int32 item indices
    scores: np.ndarray  # float32
    history: _History


class ServingModel:
    def __init__(self, model: TrainedModel, path: Path | None = None) -> None:
        self.model = model
        self.path = path
        self.card = model.card
        self.model_id: str | None = model.card.get("model_id") or (path.name if path else None)
        self.watermark_us: int | None = (model.card.get("data") or {}).get("watermark_us", model.data.watermark_us)
        self.depth = min(PRECOMPUTED, model.data.n_items)
        self.top: np.ndarray | None = None
        self.top_scores: np.ndarray | None = None
        self.embedding: np.ndarray | None = None
        self.listed: np.ndarray | None = None  # set by the state when the catalogue changes

    def prepare(self) -> ServingModel:
        """Rank every known user's top products and build the item embedding (run in a thread)."""
        data, algorithm = self.model.data, self.model.algorithm
        n = data.n_users
        top = np.zeros((n, self.depth), dtype=np.int32)
        scores = np.full((n, self.depth), -np.inf, dtype=np.float32)
        with threadpool_limits(1, "blas"):
            for start in range(0, n, SCORE_BATCH):
                idx = np.arange(start, min(start + SCORE_BATCH, n))
                s = algorithm.score(data.rows(idx)).astype(np.float64)
                t = top_k(s, self.depth)
                top[idx] = t
                scores[idx] = np.take_along_axis(s, t, axis=1)
        self.top, self.top_scores = top, scores
        self.embedding = item_embedding(data.confidence)
        self.item_ids = data.items.ids
        self.user_row = {int(u): i for i, u in enumerate(data.users.ids.tolist())}
        return self

    # ------------------------------------------------------------------ ranking

    def _fresh_items(self, fresh: Sequence[FreshEvent]) -> tuple[np.ndarray, np.ndarray]:
        """Item indices and event codes of the fresh events on products the model knows."""
        if not fresh:
            return _NO_ITEMS, _NO_ITEMS
        items = self.model.data.items.index(np.fromiter((e.product_id for e in fresh), np.int64, len(fresh)))
        kinds = np.fromiter((_CODE[e.event_type] for e in fresh), np.int64, len(fresh))
        known = items >= 0
        return items[known], kinds[known]

    def _fold(self, user_id: int, fresh: Sequence[FreshEvent]) -> _Folded | None:
        """The user's ranking (up to PRECOMPUTED) and history; None for a user without either."""
        data = self.model.data
        row = self.user_row.get(user_id, -1)
        items, kinds = self._fresh_items(fresh)
        if row < 0 and not len(items):
            return None
        if not len(items):
            lo, hi = data.purchases.indptr[row], data.purchases.indptr[row + 1]
            bought = data.purchases.indices[lo:hi].astype(np.int64)
            return _Folded(self.top[row], self.top_scores[row], self._history(row, items, kinds, bought))
        # As TrainedModel.recommend ranks it (scores as float64, non-finite ones dropped).
        rows = fold(data, row, items, kinds)
        scores = self.model.algorithm.score(rows)[0].astype(np.float64)
        ranked = top_k(scores[None, :], self.depth)[0]
        ranked = ranked[np.isfinite(scores[ranked])]
        history = self._history(row, items, kinds, rows.purchases.indices.astype(np.int64))
        return _Folded(ranked.astype(np.int32), scores[ranked].astype(np.float32), history)

    def _history(self, row: int, items: np.ndarray, kinds: np.ndarray, bought: np.ndarray) -> _History:
        """Training row ``row`` (-1: none) plus fresh events (``items``, ``kinds``): the items,
        how much each explains and by which verb; ``bought`` is the folded row's purchases."""
        strength = self.model.data.strength
        if row >= 0:
            lo, hi = strength.indptr[row], strength.indptr[row + 1]
            held = strength.indices[lo:hi].astype(np.int64)
            values = strength.data[lo:hi]
            weights = (0.5 + 0.5 * values / values.max()).astype(np.float32) if len(values) else values
            purchases = self.model.data.purchases
            trained_bought = purchases.indices[purchases.indptr[row]:purchases.indptr[row + 1]]
            verbs = np.where(_contains(trained_bought, held), PURCHASE, 0)
        else:
            held, weights, verbs = _NO_ITEMS, np.empty(0, np.float32), _NO_ITEMS
        if len(items):
            only_fresh = items[~np.isin(items, held)]
            _, first = np.unique(only_fresh, return_index=True)
            held = np.concatenate((held, only_fresh[np.sort(first)]))
            weights = np.concatenate((weights, np.zeros(len(held) - len(weights), np.float32)))
            verbs = np.concatenate((verbs, np.full(len(held) - len(verbs), -1)))
            order = np.argsort(held)
            at = order[np.searchsorted(held, items, sorter=order)]
            weights[at] = FRESH_WEIGHT  # fresh events explain best
            np.maximum.at(verbs, at, kinds)
        return _History(held, weights, verbs, bought)

    def _reasons(self, history: _History, cols: np.ndarray) -> list[Reason]:
        if not len(history.items):
            return [_POPULAR] * len(cols)
        bought, held = set(history.bought.tolist()), set(history.items.tolist())
        sims = (self.embedding[cols] @ self.embedding[history.items].T) * history.weights
        best = np.argmax(sims, axis=1)
        best_sim = sims[np.arange(len(cols)), best]
        anchors = self.item_ids[history.items[best]].tolist()
        verbs = history.verbs[best].tolist()
        out: list[Reason] = []
        for r, col in enumerate(cols.tolist()):
            if col in bought:
                out.append(_REBUY)
            elif col in held:
                out.append(_SEEN)
            elif best_sim[r] > 0:
                out.append(Reason("anchor", anchors[r], _VERBS[verbs[r]]))
            else:
                out.append(_POPULAR)
        return out

    def personalised(self, user_id: int, fresh: Sequence[FreshEvent], k: int) -> list[Ranked] | None:
        """Top k for the user, leaving out products the catalogue does not list (``listed``)."""
        folded = self._fold(user_id, fresh)
        if folded is None:
            return None
        cols, scores = folded.ranked, folded.scores
        ok = np.isfinite(scores)
        listed = self.listed
        if listed is not None:
            ok &= listed[cols]
        if not ok.all():
            cols, scores = cols[ok], scores[ok]
        cols, scores = cols[:k].astype(np.int64), scores[:k]
        reasons = self._reasons(folded.history, cols)
        return [Ranked(p, s, why) for p, s, why in zip(self.item_ids[cols].tolist(), scores.tolist(), reasons)]

    def listed_mask(self, product_ids: np.ndarray) -> np.ndarray:
        """Which of the model's items the catalogue lists."""
        return np.isin(self.item_ids, product_ids)

    def popular(self, k: int, category: str | None) -> list[Ranked]:
        try:
            recs = self.model.popular(k, category)
        except ValueError:  # a category the model has not seen
            recs = []
        return [Ranked(r.product_id, r.score, _POPULAR) for r in recs]

    def similar(self, product_id: int, k: int) -> tuple[list[Ranked], str] | None:
        try:
            recs = self.model.similar_items(product_id, k)
        except KeyError:
            return None
        return [Ranked(r.product_id, r.score, Reason("similar", product_id)) for r in recs], "similar"
