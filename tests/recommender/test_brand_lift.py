"""Brand lifts: the prior of how strongly users favour brands is learned from the shop, and each
user's lift follows the evidence of their own views."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.algorithms import make
from recommender.algorithms.brand_lift import LIFTS, BrandLift, brand_groups, group_onehot
from recommender.matrix import WeightConfig, build_data, fold_in
from tests.recommender.planted import brand_shop


def _lift_of(shop):
    data = build_data(shop.events.aggregate(), shop.catalogue, WeightConfig())
    cat = data.item_category.astype(np.int64)
    group, group_category = brand_groups(data.item_brand.astype(np.int64), cat)
    onehot = sp.csr_matrix((np.ones(len(cat)), (np.arange(len(cat)), cat)), shape=(len(cat), cat.max() + 1))
    groups = group_onehot(group, len(group_category))
    return data, group, groups, onehot, BrandLift.fit(data.views, groups, group_category, onehot)


def test_the_prior_learns_that_some_users_favour_a_brand_and_most_do_not() -> None:
    *_, planted = _lift_of(brand_shop(liker_share=0.5, lift=1.5))
    *_, none = _lift_of(brand_shop(liker_share=0.0))
    strong = LIFTS >= 1.0
    # Half the users favour one of the four brands of their category: ~1 pair in 8 is lifted.
    assert 0.05 < planted.weights[strong].sum() < 0.3
    assert planted.weights[LIFTS == 0.0].sum() > 0.6
    # Where nobody favours a brand, the prior says so: (almost) no mass on strong lifts.
    assert none.weights[strong].sum() < 0.02


def test_a_users_lift_follows_their_views() -> None:
    shop = brand_shop(liker_share=0.5, lift=1.5)
    data, group, groups, onehot, lift = _lift_of(shop)
    log_lift = lift.log_lift(data.views, groups, onehot)
    user_brand = group[data.items.index(np.array([1]))[0]]  # brand0, category 0
    # Views of category 0 (on the first item of each of its four brands): brand0 gets 0, 6 (its
    # share), 12 and 20 of 24; the last user viewed category 1 only.
    counts = np.array([[0, 8, 8, 8, 0], [6, 6, 6, 6, 0], [12, 4, 4, 4, 0], [20, 2, 1, 1, 0], [0, 0, 0, 0, 24]])
    dense = np.zeros((5, data.n_items), dtype=np.float32)
    dense[:, data.items.index(np.array([1, 6, 11, 16, 21]))] = counts
    out = lift.log_lift(sp.csr_matrix(dense), groups, onehot)[:, user_brand]
    assert out[0] < 0 and out[0] <= out[1] < out[2] < out[3] and out[3] > 0.5
    assert abs(out[4]) < 1e-9  # no views in the brand's category: no evidence either way
    # Planted likers' favourite brand gets the highest lift among their category's brands.
    liked = shop.liked_brand[data.users.ids - 1]
    names = np.asarray(shop.catalogue.brand)[data.items.index(shop.catalogue.product_id)]
    hits = [names[np.argmax(np.where(group >= 0, log_lift[u, np.maximum(group, 0)], -np.inf))] == liked[u]
            for u in np.flatnonzero(liked != "")]
    assert np.mean(hits) > 0.8


def test_the_ranker_reads_brand_lifts_from_fresh_views() -> None:
    shop = brand_shop(liker_share=0.5, lift=1.5)
    data = build_data(shop.events.aggregate(), shop.catalogue, WeightConfig())
    model = make("ranker").fit(data)
    # A new user who viewed brand0's items (category 0) only: brand0's items lift, brand1's drop.
    brand0 = np.arange(1, 6)
    rows = fold_in(data, 99_999, np.repeat(brand0, 2), np.zeros(10, dtype=np.int64))
    assert rows.views.toarray()[0, :5].tolist() == [2.0] * 5
    brand = model.features(rows)["brand"][0]
    assert brand[0] > 0.5 and brand[5] < 0 and abs(brand[-1]) < 1e-9  # the last item: category 2, no views there


def test_old_ranker_parameters_ask_for_retraining() -> None:
    with pytest.raises(ValueError, match="shop train"):
        make("ranker", brand_prior=1.0)
