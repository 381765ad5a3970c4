"""Every algorithm by name, behind the ``Algorithm`` interface (``base.py``)."""

from __future__ import annotations

from typing import Any

from recommender.algorithms.base import Algorithm, top_k
from recommender.algorithms.baselines import BuyAgain, Popularity, RandomScores
from recommender.algorithms.factorization import ALS, EASE
from recommender.algorithms.hybrid import Hybrid
from recommender.algorithms.neighbours import ItemKNN, UserKNN
from recommender.algorithms.ranker import Ranker

ALGORITHMS: dict[str, type[Algorithm]] = {
    cls.name: cls for cls in (Popularity, BuyAgain, UserKNN, ItemKNN, ALS, EASE, Hybrid, Ranker, RandomScores)
}
BASELINES = ("popularity", "buy_again", "user_knn")
COLLABORATIVE = ("item_knn", "als", "ease")
DEFAULT = "ranker"


def make(name: str, **params: Any) -> Algorithm:
    try:
        cls = ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r}; choose one of {', '.join(sorted(ALGORITHMS))}") from None
    return cls(**params)


__all__ = ["ALGORITHMS", "BASELINES", "COLLABORATIVE", "DEFAULT", "Algorithm", "make", "top_k"]
