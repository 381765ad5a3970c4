"""The learned ranker: its weights are learned from what followed a cut-off, its content features
read the catalogue's metadata, and its re-buy mix follows how much each shop re-buys."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.algorithms import make
from recommender.algorithms import ranker as ranker_module
from recommender.algorithms.ranker import (
    FEATURES,
    ORDER_CLOCK_SHARES,
    FitInputs,
    Ranker,
    fit_inputs,
    fit_weights,
    learn_weights,
)
from recommender.evaluation import evaluate, split_points, temporal_split
from recommender.matrix import Catalogue, Events, IdMap, WeightConfig, build_data, fold
from recommender.pipeline import run_evaluation
from shopcore.events import ADD_TO_CART, VIEW
from shopcore.timeunits import US_PER_DAY
from tests.recommender.planted import planted_shop


def _splits(shop):
    """The window before validation (to learn on) and the validation window (to score on)."""
    pts = split_points(shop.events, test_days=14, validation_days=14)
    items = IdMap.of(shop.catalogue.product_id, shop.events.product_id)
    history = shop.events.occurred_before(pts.test_cutoff_us)
    earlier_cut = pts.validation_cutoff_us - 14 * US_PER_DAY
    earlier = temporal_split("earlier", history.occurred_before(pts.validation_cutoff_us), shop.catalogue,
                             WeightConfig(), earlier_cut, pts.validation_cutoff_us, items)
    validation = temporal_split("validation", history, shop.catalogue, WeightConfig(),
                                pts.validation_cutoff_us, pts.test_cutoff_us, items)
    return earlier, validation


def _learned(split, **params):
    model = make("ranker", **params).fit(split.data)
    return fit_weights(model, split.data.rows(split.eval_rows), split.positives)


def test_learned_weights_beat_untrained_ones_out_of_sample(durables_shop) -> None:
    earlier, validation = _splits(durables_shop)
    zero = {"weights": {f: 0.0 for f in FEATURES}, "mix_bias": 0.0, "mix_activity": 0.0}
    learned = _learned(earlier, **zero)
    # Users of this shop each like one category: the category feature must carry weight.
    assert learned["weights"]["category"] > 0.5
    untrained = evaluate(validation, make("ranker", **zero).fit(validation.data).score).ndcg
    trained = evaluate(validation, make("ranker", **learned).fit(validation.data).score).ndcg
    assert trained > untrained + 0.05


def test_weights_are_learned_for_the_features_the_model_names(durables_shop) -> None:
    """A ranker that reads other features (benchmarks/ranker_features.py's candidates) names them, and
    fit_weights learns a weight for each of those and for nothing else."""

    class CategoryOnly(Ranker):
        feature_names = ("category_again",)

        def features(self, rows):
            return {"category_again": super().features(rows)["category"]}

    earlier, _ = _splits(durables_shop)
    model = CategoryOnly(weights={}).fit(earlier.data)
    learned = fit_weights(model, earlier.data.rows(earlier.eval_rows), earlier.positives)
    assert list(learned["weights"]) == ["category_again"]
    assert learned["weights"]["category_again"] > 0.5


def test_cut_offs_add_up_and_a_positive_weighs_what_it_stores(durables_shop) -> None:
    """Learning from one cut-off's users plus their first positives again (inputs added up, as stacked
    cut-offs are) is learning from them with the first positive at weight 2, and differs from weight 1."""

    class TwoFeatures(Ranker):  # few weights: a quick fit
        feature_names = ("category", "cf_log")

    earlier, _ = _splits(durables_shop)
    model = TwoFeatures().fit(earlier.data)
    few = slice(0, 80)
    inputs = fit_inputs(model, earlier.data.rows(earlier.eval_rows[few]), earlier.positives[few])
    first = np.zeros_like(inputs.y)
    first[np.arange(len(first)), inputs.y.argmax(axis=1)] = 1.0
    stacked = learn_weights(model, inputs + FitInputs(inputs.x, inputs.y * first, inputs.due, inputs.z))
    weighted = learn_weights(model, FitInputs(inputs.x, inputs.y * (1.0 + first), inputs.due, inputs.z))
    plain = learn_weights(model, inputs)
    assert len((inputs + inputs).z) == 2 * len(inputs.z)
    for name in TwoFeatures.feature_names:
        assert stacked["weights"][name] == pytest.approx(weighted["weights"][name], abs=0.01)
    assert max(abs(weighted["weights"][n] - plain["weights"][n]) for n in TwoFeatures.feature_names) > 0.05


def test_a_big_catalogue_learns_over_sampled_candidates(durables_shop, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above ``SAMPLED_CANDIDATES`` items the softmax runs over each user's own items (every positive
    among them, counted exactly), the top of the start logits and draws of the rest, each draw
    standing for count / (draws x proposal) items. That estimate of the normaliser is unbiased, the
    weights still find the planted taste out of sample, and the same seed gives the same weights."""
    monkeypatch.setattr(ranker_module, "SAMPLED_CANDIDATES", 40)
    monkeypatch.setattr(ranker_module, "EXACT_TOP", 5)
    monkeypatch.setattr(ranker_module, "SAMPLED_DRAWS", 30)
    earlier, validation = _splits(durables_shop)
    zero = {"weights": {f: 0.0 for f in FEATURES}, "mix_bias": 0.0, "mix_activity": 0.0}
    model = make("ranker", **zero).fit(earlier.data)
    rows = earlier.data.rows(earlier.eval_rows)
    inputs = fit_inputs(model, rows, earlier.positives)
    assert inputs.y.shape[1] < earlier.data.n_items
    assert inputs.y.sum() == earlier.positives.sum() and (inputs.offset[inputs.y > 0] == 0.0).all()

    few = earlier.eval_rows[:20]
    logits = np.random.default_rng(3).normal(0.0, 2.0, (len(few), earlier.data.n_items))
    proposal = ranker_module._proposal(model)
    estimates = []
    for seed in range(200):
        items, offset = ranker_module._candidates(earlier.data.rows(few), earlier.positives[:20], logits, proposal,
                                                  np.random.default_rng(seed))
        estimates.append(np.exp(np.take_along_axis(logits, items, axis=1) + offset).sum(axis=1))
    exact = np.exp(logits).sum(axis=1)
    assert np.mean(estimates, axis=0) / exact == pytest.approx(np.ones(len(few)), abs=0.05)

    learned = fit_weights(model, rows, earlier.positives)
    assert learned == fit_weights(model, rows, earlier.positives)
    assert learned["weights"]["category"] > 0.5
    untrained = evaluate(validation, make("ranker", **zero).fit(validation.data).score).ndcg
    trained = evaluate(validation, make("ranker", **learned).fit(validation.data).score).ndcg
    assert trained > untrained + 0.05


def test_rebuy_mix_is_larger_where_people_rebuy(consumables_shop, durables_shop) -> None:
    """The learned mix's share of re-buys among the next carts it predicts, rho(u) D(u) / (1 +
    rho(u) D(u)) with D(u) the user's summed due-ness, averaged over users. (Where nothing is
    ever due, as on a durables shop, rho itself is not identified; the share it gives is.)"""
    def rebuy_share(shop):
        earlier, validation = _splits(shop)
        params = _learned(earlier)
        model = make("ranker", **params).fit(validation.data)
        rows = validation.data.rows(validation.eval_rows)
        rho = np.exp(params["mix_bias"] + params["mix_activity"] * model.activity(rows))
        mass = rho * model.due(rows).sum(axis=1)
        return float(np.mean(mass / (1.0 + mass))), params["order_clock"]

    (consumables, clock), (durables, no_clock) = rebuy_share(consumables_shop), rebuy_share(durables_shop)
    assert consumables > 0.2
    assert durables < 0.01
    # The share of the order's re-buy clock is learned with the weights where something is due.
    assert clock in ORDER_CLOCK_SHARES and no_clock == 0.0


def _brand_data():
    """Items 1-4 in one category: 1 and 2 of brand A, 3 and 4 of brand B; 30 users view all four
    (so brands are equally popular), user 99 viewed item 1 (brand A) and 3 (brand B) once, and
    item 2 (brand A) five times. Item 5 is alone in category d."""
    rows = [(u, i, 0) for u in range(1, 31) for i in (1, 2, 3, 4)]
    rows += [(99, 1, 0), (99, 3, 0)] + [(99, 2, 0)] * 5
    a = np.array(rows, dtype=np.int64)
    at = np.arange(len(a), dtype=np.int64) * 1_000_000
    events = Events(a[:, 0], a[:, 1], a[:, 2].astype(np.int8), np.ones(len(a), dtype=np.int32), at, at)
    catalogue = Catalogue(np.arange(1, 6), np.array(["c"] * 4 + ["d"]), brand=np.array(["A", "A", "B", "B", "D"]),
                          price=np.array([10.0, 20.0, 10.0, 20.0, 5.0]))
    return build_data(events.aggregate(), catalogue, WeightConfig())


def test_catalogue_metadata_reaches_the_features() -> None:
    data = _brand_data()
    assert data.item_brand is not None and data.item_price is not None
    assert data.item_brand[0] == data.item_brand[1] != data.item_brand[2]
    model = make("ranker").fit(data)
    np.testing.assert_allclose(model.lrp[:4], np.log([10 / np.sqrt(200), 20 / np.sqrt(200)] * 2), rtol=1e-6)
    feats = model.features(data.rows(data.users.index(np.array([99]))))
    brand = feats["brand"][0]
    assert brand[3] < 0 < brand[0]  # the user's favoured brand A lifts item 1, brand B's item 4 drops
    assert brand[0] == pytest.approx(brand[1])


def test_without_metadata_the_content_features_are_neutral() -> None:
    data = _brand_data()
    plain = build_data(*_without_metadata(data))
    feats = make("ranker").fit(plain).features(plain.rows(np.arange(plain.n_users)))
    for name in ("brand", "price_fit", "price"):
        assert np.all(feats[name] == 0.0)


def _without_metadata(data):
    from recommender.matrix import Interactions

    coo = data.strength.tocoo()
    n = len(coo.data)
    z = np.zeros(n, dtype=np.int64)
    inter = Interactions(data.users.ids[coo.row], data.items.ids[coo.col], np.ones(n, dtype=np.int64), z, z, z,
                         z, z, None, z, z, z)
    return inter, Catalogue(data.items.ids, np.array(["c"] * 4 + ["d"])), WeightConfig()


def _visits_data():
    """Category a: items 1-12, b: items 13-15. User 99 made one long visit viewing all twelve
    items of a, and three short visits, days apart, each viewing one item of b. 20 other users
    view one item of each category per visit, so the shop's shares are even."""
    day = 86_400_000_000
    rows = [(99, i, 0, 0) for i in range(1, 13)] + [(99, 13 + k, 0, (k + 1) * day) for k in range(3)]
    rows += [(u, 1 + (u % 12), 0, u * day) for u in range(1, 21)] + [(u, 13 + (u % 3), 0, u * day) for u in range(1, 21)]
    a = np.array(rows, dtype=np.int64)
    at = a[:, 3] + np.arange(len(a), dtype=np.int64) * 1_000_000  # views a second apart
    events = Events(a[:, 0], a[:, 1], a[:, 2].astype(np.int8), np.ones(len(a), dtype=np.int32), at, at)
    catalogue = Catalogue(np.arange(1, 16), np.array(["a"] * 12 + ["b"] * 3))
    return build_data(events.aggregate(), catalogue, WeightConfig(half_life_days=None))


def test_category_interest_counts_visits_not_views() -> None:
    """Three visits for b say more about the user's taste than one long browse of a; counted in
    views (or per-pair strength), a would win twelve to three."""
    data = _visits_data()
    user = data.users.index(np.array([99]))
    category = make("ranker").fit(data).features(data.rows(user))["category"][0]
    assert category[12] > category[0]


def test_owned_marks_bought_items_that_are_rarely_bought_again(consumables_shop, durables_shop) -> None:
    """owned = -ln(the learned re-buy chance) on bought items: large for durables (a sofa one owns
    sinks far), small for consumables (their re-buys are the timing term's business)."""
    def owned_on_bought(shop):
        data = build_data(shop.events.aggregate(), shop.catalogue, WeightConfig())
        rows = data.rows(np.arange(data.n_users))
        owned = make("ranker").fit(data).features(rows)["owned"]
        bought = rows.purchases.toarray() > 0
        assert np.all(owned[~bought] == 0.0)
        return np.median(owned[bought])

    assert owned_on_bought(durables_shop) > -np.log(0.02) > -np.log(0.5) > owned_on_bought(consumables_shop)


def test_the_rebuy_clock_is_no_wider_than_rebuy_spread(consumables_shop) -> None:
    """The ranker's re-buy chance assumes at most ``rebuy_spread`` of log spread around a pair's cycle,
    so a purchase long before its due date is not already due; without the cap it keeps the learned one."""
    data = build_data(consumables_shop.events.aggregate(), consumables_shop.catalogue, WeightConfig())
    learned = make("ranker", rebuy_spread=float("inf")).fit(data).timing.sigma
    capped = make("ranker", rebuy_spread=learned / 2).fit(data)
    assert capped.timing.sigma == pytest.approx(learned / 2)
    assert make("ranker").fit(data).timing.sigma <= make("ranker").params["rebuy_spread"]
    rows = data.rows(np.arange(data.n_users))
    assert capped.due(rows).sum() != make("ranker", rebuy_spread=float("inf")).fit(data).due(rows).sum()


def test_price_tilt_follows_the_prices_a_user_picks() -> None:
    """User 99 looked at the dearer item 2 five times and at cheaper items 1 and 3 once each."""
    data = _brand_data()
    feats = make("ranker").fit(data).features(data.rows(data.users.index(np.array([99]))))
    price_fit = feats["price_fit"][0]
    assert price_fit[1] > 0 > price_fit[0]  # dearer items gain, cheaper ones lose
    assert price_fit[3] == pytest.approx(price_fit[1]) and price_fit[4] == 0.0  # item 5: alone in d, at its median
    others = make("ranker").fit(data).features(data.rows(data.users.index(np.array([1]))))["price_fit"][0]
    assert abs(others[1]) < abs(price_fit[1])  # users who view every price have (almost) no tilt


def test_without_metadata_the_ranker_drops_constant_features_and_learns_the_collaborative_signal() -> None:
    """Six latent tastes the catalogue does not tell (one category for all, no brands, no prices):
    only which items go together shows them, and the ranker's learned weights must find that."""
    shop = planted_shop(users=300, items=120, categories=6, days=90, seed=3)
    hidden = Catalogue(shop.catalogue.product_id, np.full(len(shop.catalogue.product_id), "all"))
    report = run_evaluation(shop.events, hidden, algorithms=["popularity", "user_knn", "ranker"])
    ranker = report.result("ranker")
    assert {"category", "brand", "price_fit", "price"} <= set(ranker.params["dropped"])
    assert all(ranker.params["weights"][name] == 0 for name in ranker.params["dropped"])
    assert ranker.params["weights"]["cf"] > 0
    assert ranker.test.ndcg > 1.2 * report.result("popularity").test.ndcg


def test_the_chosen_neighbourhood_reads_carts_and_purchases_not_views(durables_shop) -> None:
    """``chosen_cf_log`` scores items by their neighbours among what the user carted or bought: for a
    newcomer, a fresh view leaves it as it was, a fresh cart of the same item raises that item's neighbours.
    ``cf_log_in_category`` reads the kNN score against the user's mean over the item's category."""
    data = build_data(durables_shop.events.aggregate(), durables_shop.catalogue, WeightConfig())
    ranker = make("ranker").fit(data)
    user = -1  # a newcomer: nothing chosen yet
    item = int(np.asarray(ranker.neighbours.similarity.getnnz(axis=1)).argmax())
    neighbours = ranker.neighbours.similarity.getrow(item).indices
    before, viewed, carted = (ranker.features(fold(data, user, np.array(items, dtype=np.int64),
                                                   np.array(kinds, dtype=np.int64)))
                              for items, kinds in (([], []), ([item], [VIEW]), ([item], [ADD_TO_CART])))
    assert np.array_equal(viewed["chosen_cf_log"], before["chosen_cf_log"])
    assert (carted["chosen_cf_log"][0, neighbours] > before["chosen_cf_log"][0, neighbours]).all()
    rows = data.rows(np.arange(data.n_users))
    in_category = ranker.features(rows)["cf_log_in_category"]
    for category in np.unique(ranker.cat):
        assert np.allclose(in_category[:, ranker.cat == category].mean(axis=1), 0.0)
