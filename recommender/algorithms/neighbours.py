"""Neighbourhood methods: user-based cosine kNN (the original design, done sparse) and
item-based kNN from the ``implicit`` library."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from implicit.nearest_neighbours import BM25Recommender, CosineRecommender
from threadpoolctl import threadpool_limits

from recommender.algorithms.base import Algorithm, top_k
from recommender.matrix import UserItemData, UserRows

_USER_BATCH = 128  # rows whose similarity to every user is held densely at once


def _l2_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms).astype(np.float32) @ m)


class UserKNN(Algorithm):
    """Score = sum over the user's K most cosine-similar users of similarity x their row.

    The dense design kept an all-users x all-users similarity matrix (80 GB at 100,000 users);
    here nothing quadratic is stored: similarities are computed per batch of users being
    scored, as a sparse product, and only the top K survive.
    """

    name = "user_knn"
    defaults = {"neighbours": 100}

    def _fit(self, data: UserItemData) -> None:
        self.normalised = _l2_rows(data.confidence)
        self.normalised_t = self.normalised.T.tocsr()
        self.values = data.confidence

    def score(self, rows: UserRows) -> np.ndarray:
        k = int(self.params["neighbours"])
        query = _l2_rows(rows.confidence)
        out = np.empty((len(rows), self.values.shape[1]), dtype=np.float32)
        for start in range(0, len(rows), _USER_BATCH):
            stop = min(start + _USER_BATCH, len(rows))
            sim = (query[start:stop] @ self.normalised_t).toarray()
            own = rows.index[start:stop]
            known = own >= 0
            sim[np.flatnonzero(known), own[known]] = 0.0  # a user is not their own neighbour
            kk = min(k, sim.shape[1])
            nb = top_k(sim, kk)
            weights = np.take_along_axis(sim, nb, axis=1)
            n = stop - start
            neigh = sp.csr_matrix(
                (weights.ravel(), nb.ravel(), np.arange(0, n * kk + 1, kk)),
                shape=(n, sim.shape[1]),
            )
            out[start:stop] = (neigh @ self.values).toarray()
        return out

    def load_state(self, data: UserItemData, state: dict[str, np.ndarray]) -> None:
        super().load_state(data, state)
        self._fit(data)


class ItemKNN(Algorithm):
    """Score = the user's row times an item x item similarity matrix keeping K neighbours per item
    (``implicit``'s cosine or BM25 item-item models)."""

    name = "item_knn"
    defaults = {"neighbours": 100, "similarity": "cosine", "threads": 1}

    def _fit(self, data: UserItemData) -> None:
        kind = self.params["similarity"]
        k, threads = int(self.params["neighbours"]), int(self.params["threads"])
        if kind == "cosine":
            model = CosineRecommender(K=k, num_threads=threads)
        elif kind == "bm25":
            model = BM25Recommender(K=k, num_threads=threads)
        else:
            raise ValueError(f"item_knn similarity must be 'cosine' or 'bm25', got {kind!r}")
        # implicit hands its own normalised COO matrix on and warns about it: not ours to fix.
        with threadpool_limits(1, "blas"), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Method expects CSR input")
            model.fit(data.confidence.astype(np.float64), show_progress=False)
        # similarity[i, j]: how much having item i speaks for item j (implicit's scorer adds
        # weight(i) x similarity[i, j]); keep it to score whole batches with one product.
        self.similarity = model.similarity.tocsr().astype(np.float32)

    def score(self, rows: UserRows) -> np.ndarray:
        return (rows.confidence @ self.similarity).toarray()

    def similar_items(self, item: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        row = self.similarity.getrow(item).toarray()[0]
        row[item] = -np.inf
        top = top_k(row[None, :], k)[0]
        return top, row[top]

    def state(self) -> dict[str, np.ndarray]:
        s = self.similarity
        return {"sim_data": s.data, "sim_indices": s.indices, "sim_indptr": s.indptr,
                "sim_shape": np.array(s.shape, dtype=np.int64)}

    def load_state(self, data: UserItemData, state: dict[str, np.ndarray]) -> None:
        super().load_state(data, state)
        self.similarity = sp.csr_matrix(
            (state["sim_data"], state["sim_indices"], state["sim_indptr"]), shape=tuple(state["sim_shape"]))
