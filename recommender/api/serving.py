"""Recommenders the routes call: a trained model prepared for serving, and the popularity baseline.

``ServingModel`` wraps the engine's ``TrainedModel`` (recommender.model). At load time, in a
worker thread, it ranks the top products of every known user in batches (the engine's own
``Algorithm.score`` and ``top_k``, so the lists equal ``TrainedModel.recommend``), so that a
request for a user without fresh events is an array look-up. Users with fresh events go through
``TrainedModel.recommend(..., recent_events=...)`` (fold-in), memoised per user and event set.
Reasons ("because you viewed X") come from item-to-item cosine similarity of the training
matrix, through a small truncated-SVD item embedding.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds
from threadpoolctl import threadpool_limits

from recommender.algorithms import top_k
from recommender.api.catalogue import ProductCatalogue
from recommender.api.fresh import FreshEvent
from recommender.model import TrainedModel

PRECOMPUTED = 100  # the largest k the API serves
EMBEDDING_DIM = 32
SCORE_BATCH = 512
FOLD_IN_CACHE = 20_000
_VERB = {"view": "viewed", "add_to_cart": "added", "purchase": "bought"}
_STRENGTH = {"view": 0, "add_to_cart": 1, "purchase": 2}


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
    return f"popular in {category}" if category else "popular right now"


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


@dataclass
class _UserHistory:
    items: np.ndarray  # item indices the user interacted with
    weights: np.ndarray  # how much each counts as an anchor
    verbs: list[str]
    bought: np.ndarray  # item indices the user bought


class ServingModel:
    def __init__(self, model: TrainedModel, path: Path | None = None) -> None:
        self.model = model
        self.path = path
        self.card = model.card
        self.model_id: str | None = model.card.get("model_id") or (path.name if path else None)
        self.watermark_us: int | None = (model.card.get("data") or {}).get("watermark_us", model.data.watermark_us)
        self.depth = min(PRECOMPUTED, model.data.n_items)
        self._fold_cache: OrderedDict[tuple, list[tuple[int, float]]] = OrderedDict()
        self.top: np.ndarray | None = None
        self.top_scores: np.ndarray | None = None
        self.embedding: np.ndarray | None = None
        self.listed: np.ndarray | None = None  # set by the state when the catalogue changes
        self._popular_cache: dict[tuple, list[Ranked]] = {}

    def prepare(self) -> ServingModel:
        """Rank every known user's top products and build the item embedding (seconds; run in a thread)."""
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
        self.item_col = {int(p): i for i, p in enumerate(data.items.ids.tolist())}
        return self

    # ------------------------------------------------------------------ ranking

    def _ranked_cols(self, user_id: int, fresh: Sequence[FreshEvent]) -> tuple[np.ndarray, np.ndarray] | None:
        """Item indices and scores, best first (up to PRECOMPUTED); None for a user without history."""
        row = self.user_row.get(user_id, -1)
        usable = [e for e in fresh if e.product_id in self.item_col] if fresh else []
        if row < 0 and not usable:
            return None
        if not usable:
            return self.top[row], self.top_scores[row]
        key = (user_id, len(usable), usable[-1].event_id)
        hit = self._fold_cache.get(key)
        if hit is not None:
            self._fold_cache.move_to_end(key)
            return hit
        recs = self.model.recommend(user_id, self.depth, [(e.product_id, e.event_type) for e in usable])
        cols = np.array([self.item_col[r.product_id] for r in recs], dtype=np.int32)
        result = cols, np.array([r.score for r in recs], dtype=np.float32)
        self._fold_cache[key] = result
        if len(self._fold_cache) > FOLD_IN_CACHE:
            self._fold_cache.popitem(last=False)
        return result

    def _history(self, user_id: int, fresh: Sequence[FreshEvent]) -> _UserHistory:
        """The user's items (training row plus fresh events), how much each explains, and the verb."""
        data = self.model.data
        row = self.user_row.get(user_id, -1)
        if row >= 0:
            lo, hi = data.strength.indptr[row], data.strength.indptr[row + 1]
            items = data.strength.indices[lo:hi].astype(np.int64)
            values = data.strength.data[lo:hi]
            weights = (0.5 + 0.5 * values / values.max()).astype(np.float32) if len(values) else values
            plo, phi = data.purchases.indptr[row], data.purchases.indptr[row + 1]
            bought = data.purchases.indices[plo:phi].astype(np.int64)
            bought_set = set(bought.tolist())
            verbs = ["bought" if i in bought_set else "viewed" for i in items.tolist()]
        else:
            items, weights, bought, verbs = (np.empty(0, np.int64), np.empty(0, np.float32),
                                             np.empty(0, np.int64), [])
        if fresh:
            position = {int(c): i for i, c in enumerate(items)}
            items, weights, bought = items.tolist(), weights.tolist(), bought.tolist()
            for e in fresh:
                col = self.item_col.get(e.product_id)
                if col is None:
                    continue
                verb = _VERB[e.event_type]
                i = position.get(col)
                if i is None:
                    position[col] = len(items)
                    items.append(col)
                    weights.append(1.5)  # fresh events explain best
                    verbs.append(verb)
                else:
                    weights[i] = 1.5
                    if _strength_of(verb) >= _strength_of(verbs[i]):
                        verbs[i] = verb
                if e.event_type == "purchase":
                    bought.append(col)
            items = np.array(items, dtype=np.int64)
            weights = np.array(weights, dtype=np.float32)
            bought = np.array(bought, dtype=np.int64)
        return _UserHistory(items, weights, verbs, bought)

    def _reasons(self, user_id: int, fresh: Sequence[FreshEvent], cols: np.ndarray) -> list[Reason]:
        history = self._history(user_id, fresh)
        if not len(history.items):
            return [Reason("popular")] * len(cols)
        bought, held = set(history.bought.tolist()), set(history.items.tolist())
        sims = (self.embedding[cols] @ self.embedding[history.items].T) * history.weights
        best = np.argmax(sims, axis=1)
        best_sim = sims[np.arange(len(cols)), best]
        out: list[Reason] = []
        ids = self.item_ids
        for r, col in enumerate(cols.tolist()):
            if col in bought:
                out.append(_REBUY)
            elif col in held:
                out.append(_SEEN)
            elif best_sim[r] > 0:
                j = int(best[r])
                out.append(Reason("anchor", int(ids[history.items[j]]), history.verbs[j]))
            else:
                out.append(_POPULAR)
        return out

    def personalised(self, user_id: int, fresh: Sequence[FreshEvent], k: int) -> list[Ranked] | None:
        """Top k for the user, leaving out products the catalogue does not list (``listed``)."""
        ranked = self._ranked_cols(user_id, fresh)
        if ranked is None:
            return None
        cols, scores = ranked
        ok = np.isfinite(scores)
        listed = self.listed
        if listed is not None:
            ok &= listed[cols]
        if not ok.all():
            cols, scores = cols[ok], scores[ok]
        cols, scores = cols[:k].astype(np.int64), scores[:k]
        reasons = self._reasons(user_id, fresh, cols)
        return [Ranked(p, s, why) for p, s, why in zip(self.item_ids[cols].tolist(), scores.tolist(), reasons)]

    def listed_mask(self, product_ids: np.ndarray) -> np.ndarray:
        """Which of the model's items the catalogue lists."""
        return np.isin(self.item_ids, product_ids)

    def popular(self, k: int, category: str | None) -> list[Ranked]:
        key = (k, category)
        hit = self._popular_cache.get(key)
        if hit is None:
            try:
                recs = self.model.popular(k, category)
            except ValueError:  # a category the model has not seen
                recs = []
            hit = [Ranked(r.product_id, r.score, _POPULAR) for r in recs]
            if len(self._popular_cache) < 10_000:
                self._popular_cache[key] = hit
        return hit

    def similar(self, product_id: int, k: int) -> tuple[list[Ranked], str] | None:
        try:
            recs = self.model.similar_items(product_id, k)
        except KeyError:
            return None
        return [Ranked(r.product_id, r.score, Reason("similar", product_id)) for r in recs], "similar"


def _strength_of(verb: str) -> int:
    return {"viewed": 0, "added": 1, "bought": 2}.get(verb, 0)
