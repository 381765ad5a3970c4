"""Matrix factorisation: implicit-feedback ALS from the ``implicit`` library, and EASE."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from recommender.algorithms.base import Algorithm
from recommender.matrix import UserItemData, UserRows

EASE_MAX_ITEMS = 6000  # its dense item x item solve grows with the square (memory) and cube (time) of this


class ALS(Algorithm):
    """Hu, Koren & Volinsky's implicit ALS (conjugate-gradient solver) on the confidence matrix.

    Users unknown at training time, or with fresh events, get their factors recomputed from
    their row against the fixed item factors (``recalculate_user``): fold-in without retraining.
    """

    name = "als"
    defaults = {"factors": 64, "regularization": 0.05, "alpha": 4.0, "iterations": 15, "seed": 42, "threads": 1}

    def _model(self) -> AlternatingLeastSquares:
        p = self.params
        # implicit checks BLAS's threads when the model is made, not when it fits: made under the
        # same limit the fit runs under, it does not warn about a pool the fit never uses.
        with threadpool_limits(1, "blas"):
            return AlternatingLeastSquares(
                factors=int(p["factors"]), regularization=float(p["regularization"]), alpha=float(p["alpha"]),
                iterations=int(p["iterations"]), random_state=int(p["seed"]), num_threads=int(p["threads"]),
            )

    def _fit(self, data: UserItemData) -> None:
        self.model = self._model()
        # BLAS threads would make results depend on summation order, and fight implicit's own.
        with threadpool_limits(1, "blas"):
            self.model.fit(data.confidence, show_progress=False)
        self.item_factors64 = self.model.item_factors.astype(np.float64)

    def user_factors(self, rows: UserRows) -> np.ndarray:
        if not rows.folded and (rows.index >= 0).all():
            return self.model.user_factors[rows.index]
        with threadpool_limits(1, "blas"):
            return self.model.recalculate_user(np.arange(len(rows)), rows.confidence.tocsr())

    def score(self, rows: UserRows) -> np.ndarray:
        # In double precision, rounded to single once: a user's scores must not depend on the batch
        # they are scored in. BLAS sums one row (gemv) in another order than a batch (gemm); in
        # single precision that moves the last bit of most scores, enough to swap two near-tied
        # items between the API's precomputed lists and the engine's one-user computation.
        users = self.user_factors(rows).astype(np.float64)
        return (users @ self.item_factors64.T).astype(np.float32)

    def similar_items(self, item: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        ids, scores = self.model.similar_items(item, N=k + 1)
        keep = ids != item
        return ids[keep][:k].astype(np.int64), scores[keep][:k]

    def state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.model.user_factors, "item_factors": self.model.item_factors}

    def load_state(self, data: UserItemData, state: dict[str, np.ndarray]) -> None:
        super().load_state(data, state)
        self.model = self._model()
        self.model.user_factors = np.ascontiguousarray(state["user_factors"])
        self.model.item_factors = np.ascontiguousarray(state["item_factors"])
        self.item_factors64 = self.model.item_factors.astype(np.float64)


class EASE(Algorithm):
    """Steck's EASE: a closed-form item x item model, B = I - P / diag(P) with
    P = (X'X + lambda I)^-1 and a zero diagonal. Only for catalogues up to EASE_MAX_ITEMS."""

    name = "ease"
    defaults = {"l2": 200.0}

    @staticmethod
    def applicable(n_items: int) -> bool:
        return n_items <= EASE_MAX_ITEMS

    def _fit(self, data: UserItemData) -> None:
        if not self.applicable(data.n_items):
            raise ValueError(
                f"EASE solves a dense {data.n_items:,} x {data.n_items:,} system; it is limited to "
                f"{EASE_MAX_ITEMS:,} items. Use als or item_knn for this catalogue.")
        x = data.confidence
        gram = (x.T @ x).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += float(self.params["l2"])
        with threadpool_limits(2, "blas"):
            p = np.linalg.inv(gram)
        b = p / (-np.diag(p))
        b[np.diag_indices_from(b)] = 0.0
        self.weights = b.astype(np.float32)

    def score(self, rows: UserRows) -> np.ndarray:
        return np.asarray(rows.confidence @ self.weights, dtype=np.float32)

    def state(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights}

    def load_state(self, data: UserItemData, state: dict[str, np.ndarray]) -> None:
        super().load_state(data, state)
        self.weights = state["weights"]
