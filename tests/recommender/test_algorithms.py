"""Every algorithm learns the planted structure; similar items share a category; determinism."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from recommender.algorithms import ALGORITHMS, make
from recommender.algorithms.ranker import FEATURES
from recommender.evaluation import evaluate, split_points, temporal_split
from recommender.matrix import IdMap, WeightConfig, fold_in

ALL = [name for name in ALGORITHMS if name != "random"]


@pytest.fixture(scope="module")
def split(durables_shop):
    ev = durables_shop.events
    pts = split_points(ev, test_days=14, validation_days=14)
    items = IdMap.of(durables_shop.catalogue.product_id)
    return temporal_split("test", ev, durables_shop.catalogue, WeightConfig(), pts.test_cutoff_us, pts.end_us, items)


@pytest.fixture(scope="module")
def random_ndcg(split) -> float:
    return evaluate(split, make("random", seed=3).fit(split.data).score).ndcg


@pytest.mark.parametrize("name", ALL)
def test_beats_random_on_planted_structure(name, split, random_ndcg) -> None:
    model = make(name).fit(split.data)
    got = evaluate(split, model.score).ndcg
    assert got > 2 * random_ndcg, f"{name}: NDCG@10 {got:.3f} vs random {random_ndcg:.3f}"


@pytest.mark.parametrize("name", ["user_knn", "item_knn", "als", "ease", "hybrid", "ranker"])
def test_collaborative_models_beat_popularity(name, split) -> None:
    pop = evaluate(split, make("popularity").fit(split.data).score).ndcg
    assert evaluate(split, make(name).fit(split.data).score).ndcg > 1.5 * pop


@pytest.mark.parametrize("name", ["user_knn", "item_knn", "als", "ease", "hybrid", "ranker"])
def test_similar_items_share_the_category(name, split, durables_shop) -> None:
    # 300 users cannot support 64 latent factors: size ALS to the shop.
    small = {"factors": 16} if name == "als" else {"base_params": {"factors": 16}} if name == "hybrid" else {}
    model = make(name, **small).fit(split.data)
    item_cat = durables_shop.item_category
    same = []
    for item in range(0, split.data.n_items, 7):
        ids, scores = model.similar_items(item, 5)
        assert item not in ids and len(ids) == 5
        assert np.all(np.diff(scores) <= 1e-6)
        product = split.data.items.ids[ids] - 1
        same.append(np.mean(item_cat[product] == item_cat[split.data.items.ids[item] - 1]))
    assert np.mean(same) > 0.6  # 6 categories: chance is 1/6


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_model_and_scores_whatever_the_batch(name, split) -> None:
    rows = split.data.rows(split.eval_rows[:50])
    # Every feature of the ranker weighs in (its defaults leave the kNN ones at 0, as learned weights do not).
    params = {"weights": {f: 0.5 for f in FEATURES}} if name == "ranker" else {}
    model = make(name, **params).fit(split.data)
    a = model.score(rows)
    b = make(name, **params).fit(split.data).score(rows)
    np.testing.assert_array_equal(a, b)
    # The API ranks known users in batches, the engine one user at a time (fold_in): a user's
    # scores must be the same bits either way, or two near-tied items swap places between them.
    no_events = np.empty(0, dtype=np.int64)
    one_by_one = np.vstack([model.score(fold_in(split.data, int(user), no_events, no_events))
                            for user in split.data.users.ids[split.eval_rows[:50]]])
    np.testing.assert_array_equal(a, one_by_one)


def test_als_seed_changes_factors(split) -> None:
    rows = split.data.rows(split.eval_rows[:20])
    a = make("als", seed=1).fit(split.data).score(rows)
    b = make("als", seed=2).fit(split.data).score(rows)
    assert not np.array_equal(a, b)


def test_als_is_made_and_fit_without_implicits_blas_threads_warning(split, monkeypatch) -> None:
    # implicit warns once per process, when a model is made while BLAS runs a pool of threads.
    import implicit.utils
    from threadpoolctl import threadpool_limits

    monkeypatch.setattr(implicit.utils, "_checked_blas_config", False)
    with threadpool_limits(2, "blas"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make("als", factors=4, iterations=2).fit(split.data)
    assert not [w for w in caught if "threads" in str(w.message)], [str(w.message) for w in caught]


def test_unknown_algorithm_and_parameter_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown algorithm"):
        make("dense_user_cosine")
    with pytest.raises(ValueError, match="no parameter"):
        make("als", factor=3)


def test_a_fit_says_where_its_time_went(split) -> None:
    """The hybrid and the ranker time the named steps of their fit; a new fit starts a new account."""
    hybrid = make("hybrid", base="item_knn").fit(split.data)
    assert set(hybrid.stage_seconds) == {"base (item_knn)", "re-buy propensity and timing"}
    ranker = make("ranker").fit(split.data)
    assert set(ranker.stage_seconds) == {"category, brand and price statistics", "re-buy timing", "item-kNN",
                                        "item-kNN, BM25"}
    assert all(seconds >= 0 for seconds in ranker.stage_seconds.values())
    hybrid.stage_seconds["an earlier step"] = 1.0
    hybrid.fit(split.data)
    assert set(hybrid.stage_seconds) == {"base (item_knn)", "re-buy propensity and timing"}
    assert make("popularity").fit(split.data).stage_seconds == {}
