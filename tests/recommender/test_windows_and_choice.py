"""Evaluation windows sized by the data, the last-basket protocol, bootstrap intervals and the
rule that picks what `auto` serves."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from recommender.algorithms import make
from recommender.choice import choose
from recommender.evaluation import (
    Metrics,
    NotEnoughHistory,
    evaluate,
    split_points,
    temporal_split,
)
from recommender.matrix import Catalogue, Events, IdMap, WeightConfig
from recommender.pipeline import Report, run_evaluation
from recommender.tuning import tune
from recommender.uncertainty import PairedBootstrap
from recommender.windows import (
    BASKET_GAP_US,
    MAX_SHARE,
    MIN_USERS,
    data_sized_points,
    last_basket_split,
    temporal_points,
    users_to_evaluate,
)
from shopcore.timeunits import US_PER_DAY
from tests.recommender.planted import planted_shop

START = 1_700_000_000 * 1_000_000
VIEW, CART, BUY = 0, 1, 2


def events_of(rows: list[tuple[int, int, int, int]]) -> Events:
    """Events from (user, product, type, µs) rows."""
    user, product, kind, at = (np.array(column, dtype=np.int64) for column in zip(*rows))
    return Events(user, product, kind.astype(np.int8), np.ones(len(user), dtype=np.int32), at, at)


def catalogue_of(n_products: int) -> Catalogue:
    return Catalogue(np.arange(1, n_products + 1, dtype=np.int64), np.array(["all"] * n_products))


def spread_shop(*, users: int, days: float, seed: int = 0) -> Events:
    """Users each with a few visits spread over ``days``: every visit views, some cart or buy."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(1, users + 1):
        for moment in np.sort(rng.uniform(0, days * US_PER_DAY, rng.integers(2, 6))):
            product = int(rng.integers(1, 50))
            rows.append((user, product, VIEW, START + int(moment)))
            if rng.random() < 0.6:
                rows.append((user, product, BUY, START + int(moment) + 1_000_000))
    return events_of(rows)


@pytest.mark.parametrize("days", [7, 730], ids=["one-week", "two-years"])
def test_windows_follow_the_data_not_the_calendar(days: float) -> None:
    events = spread_shop(users=3000, days=days)
    points, sized = data_sized_points(events)
    assert sized.sized_by == "data"
    span = events.occurred_us.max() - events.occurred_us.min()
    test_length = points.end_us - points.test_cutoff_us
    assert 0.05 * span < test_length < 0.4 * span  # a share of the history, whatever its length
    assert users_to_evaluate(events, points.test_cutoff_us, points.end_us) >= 200
    before_test = events.occurred_before(points.test_cutoff_us)
    assert users_to_evaluate(before_test, points.validation_cutoff_us, points.test_cutoff_us) >= 200
    # Fourteen fixed days would hold the whole week (nothing left to train on) or a sliver of two years.
    if days == 7:
        with pytest.raises(NotEnoughHistory):
            temporal_points(events, test_days=14, validation_days=14)


def test_windows_widen_until_they_hold_enough_users() -> None:
    events = spread_shop(users=1500, days=60, seed=3)
    narrow, _ = data_sized_points(events, min_users=1)
    in_narrow = users_to_evaluate(events, narrow.test_cutoff_us, narrow.end_us)
    wide, sized = data_sized_points(events, min_users=in_narrow + 50)
    assert sized.test_share > 0.10
    assert wide.test_cutoff_us < narrow.test_cutoff_us
    assert users_to_evaluate(events, wide.test_cutoff_us, wide.end_us) >= in_narrow + 50
    # Past the largest share the windows stop widening: fewer users than asked, but still a split.
    _, capped = data_sized_points(events, min_users=10**6)
    assert capped.test_share == pytest.approx(MAX_SHARE) and capped.validation_share == pytest.approx(MAX_SHARE)


def test_fixed_days_still_override_and_must_come_in_pairs() -> None:
    events = spread_shop(users=500, days=90)
    points, sized = temporal_points(events, test_days=10, validation_days=5)
    assert sized.sized_by == "days"
    assert points.end_us - points.test_cutoff_us == pytest.approx(10 * US_PER_DAY, abs=1)
    with pytest.raises(ValueError, match="both"):
        temporal_points(events, test_days=10, validation_days=None)


def test_last_basket_holds_out_each_users_last_basket_and_the_one_before() -> None:
    day = US_PER_DAY
    rows = [
        # user 1: three baskets (products 1, then 2+3 within the gap, then 4)
        (1, 9, VIEW, START), (1, 1, BUY, START + day),
        (1, 2, CART, START + 5 * day), (1, 3, BUY, START + 5 * day + BASKET_GAP_US // 2),
        (1, 4, BUY, START + 9 * day), (1, 9, VIEW, START + 9 * day + 10),
        # user 2: one basket after a view: tested, never validated
        (2, 5, VIEW, START), (2, 6, BUY, START + 2 * day),
        # user 3: only a basket, no history before it: not tested
        (3, 7, BUY, START + 3 * day),
    ]
    events = events_of(rows)
    catalogue, config = catalogue_of(9), WeightConfig()
    items = IdMap.of(catalogue.product_id, events.product_id)
    test, rest = last_basket_split("test", events, catalogue, config, items)
    tested = dict(zip(test.eval_user_ids.tolist(), test.positives.tolil().rows))
    assert set(tested) == {1, 2}
    assert sorted(items.ids[tested[1]].tolist()) == [4] and items.ids[tested[2]].tolist() == [6]
    # Training for the test stops where each tested user's basket starts; user 3 keeps everything.
    assert not ((rest.user_id == 1) & (rest.occurred_us >= START + 9 * day)).any()
    assert (rest.user_id == 3).sum() == 1
    validation, _ = last_basket_split("validation", rest, catalogue, config, items)
    validated = dict(zip(validation.eval_user_ids.tolist(), validation.positives.tolil().rows))
    assert set(validated) == {1}
    assert sorted(items.ids[validated[1]].tolist()) == [2, 3]  # the basket before: two lines, one basket


def test_last_basket_protocol_runs_and_says_so() -> None:
    shop = planted_shop(users=150, items=60, days=70, consumable_share=0.4, seed=9)
    report = run_evaluation(shop.events, shop.catalogue, protocol="last-basket",
                            algorithms=["popularity", "buy_again", "item_knn"])
    assert report.protocol == "last-basket" and report.test_users > 50
    assert report.validation_users > 20
    with pytest.raises(ValueError, match="protocol"):
        run_evaluation(shop.events, shop.catalogue, protocol="random")


@pytest.mark.parametrize("protocol", ["last-basket", "temporal"])
def test_parameters_are_tuned_before_validation_only_on_a_window_of_enough_users(protocol: str) -> None:
    """A tuning window of fewer users than every window's minimum picks parameters by noise: the
    evaluation tunes on validation instead, and says so; with enough users it tunes there."""
    shop = planted_shop(users=150, items=60, days=70, consumable_share=0.4, seed=9)
    windows = {} if protocol == "last-basket" else {"test_days": 14, "validation_days": 14}

    def evaluated(**options) -> tuple[Report, list[str]]:
        steps: list[str] = []
        report = run_evaluation(shop.events, shop.catalogue, protocol=protocol, algorithms=["popularity", "item_knn"],
                                progress=steps.append, **windows, **options)
        return report, steps

    short, steps = evaluated()  # 150 users cannot put MIN_USERS in the window before validation
    users = short.tuning_users
    assert 0 < users < MIN_USERS
    assert short.windows["tuned_on"].startswith("validation (") and f"only {users:,} users" in short.windows["tuned_on"]
    assert [w for w in short.warnings if "selected on validation itself" in w and f"fewer than {MIN_USERS}" in w]
    assert not [step for step in steps if step.startswith("earlier:")]  # nothing was tuned before validation
    enough, steps = evaluated(min_users=users)
    assert enough.tuning_users == users and f"({users:,} users; validation scores are out of sample)" in \
        enough.windows["tuned_on"]
    assert not [w for w in enough.warnings if "selected on validation itself" in w]
    assert [step for step in steps if step.startswith("earlier: item_knn")]


def test_intervals_and_recall_by_kind_in_the_report() -> None:
    shop = planted_shop(users=200, items=60, days=80, consumable_share=0.5, seed=4)
    report = run_evaluation(shop.events, shop.catalogue, algorithms=["popularity", "buy_again", "item_knn"])
    for result in report.results:
        interval = report.test_intervals[result.algorithm]
        assert interval.low <= result.test.ndcg <= interval.high
        assert interval.estimate == pytest.approx(result.test.ndcg)
        assert result.test.recall_rebuy is not None and result.test.recall_new is not None
    assert report.baseline in {"popularity", "buy_again"}
    # buy_again puts what each user bought first: it finds re-buys that popularity misses.
    buy_again, popularity = report.result("buy_again").test, report.result("popularity").test
    assert buy_again.recall_rebuy > popularity.recall_rebuy
    assert popularity.recall_new > 0
    assert report.choice is not None and report.choice.reason


def test_paired_intervals() -> None:
    rng = np.random.default_rng(1)
    a = rng.random(400)
    bootstrap = PairedBootstrap(400, seed=2)
    same = bootstrap.difference(a, a)
    assert same.low == same.high == 0.0
    better = bootstrap.difference(a + 0.05 + rng.normal(0, 0.01, 400), a)
    assert better.low > 0.03 and better.high < 0.07
    noisy = bootstrap.difference(a + rng.normal(0, 0.3, 400), a)
    assert noisy.contains(0.0)
    with pytest.raises(ValueError):
        bootstrap.mean(a[:10])


def _candidate(name: str, per_user: np.ndarray) -> SimpleNamespace:
    metrics = Metrics(0, 0, float(per_user.mean()), 0, 0, None, len(per_user), per_user_ndcg=per_user)
    return SimpleNamespace(algorithm=name, validation=metrics)


def test_a_simpler_model_wins_where_validation_cannot_separate_them() -> None:
    rng = np.random.default_rng(7)
    base = rng.random(300)
    noise = rng.normal(0, 0.2, 150)
    # The ranker's lead over user_knn is noise (their means differ by 0.005); over popularity it is real.
    candidates = [_candidate("popularity", base - 0.2), _candidate("user_knn", base + np.concatenate([noise, -noise])),
                  _candidate("ranker", base + 0.005)]
    choice = choose(candidates)
    assert choice.best_on_validation == "ranker" and choice.algorithm == "user_knn"
    assert "includes 0" in choice.reason and choice.lead is not None and choice.lead.contains(0.0)


def test_the_best_wins_when_it_leads_every_simpler_model_beyond_the_noise() -> None:
    rng = np.random.default_rng(8)
    base = rng.random(300)
    candidates = [_candidate("popularity", base - 0.2), _candidate("item_knn", base - 0.05),
                  _candidate("ranker", base + rng.normal(0, 0.01, 300))]
    choice = choose(candidates)
    assert choice.algorithm == "ranker" and "closest: item_knn" in choice.reason


def test_every_candidates_validation_score_is_of_parameters_selected_without_validation() -> None:
    """The grids, the hybrid's blend and the ranker's weights are selected on the window before
    validation: labels planted in validation change what each keeps for the test fit, never the
    parameters its validation score is of, so the choice rule compares out-of-sample scores only."""
    shop = planted_shop(users=120, items=36, days=70, consumable_share=0.5, seed=5)
    pts = split_points(shop.events, test_days=14, validation_days=14)
    items = IdMap.of(shop.catalogue.product_id, shop.events.product_id)
    history = shop.events.occurred_before(pts.test_cutoff_us)
    earlier = temporal_split("earlier", history.occurred_before(pts.validation_cutoff_us), shop.catalogue,
                             WeightConfig(), pts.validation_cutoff_us - 14 * US_PER_DAY, pts.validation_cutoff_us, items)
    validation = temporal_split("validation", history, shop.catalogue, WeightConfig(), pts.validation_cutoff_us,
                                pts.test_cutoff_us, items)
    # Other labels on the same validation window: each user gets another user's carts.
    shifted = replace(validation, positives=validation.positives[np.roll(np.arange(len(validation.eval_rows)), 1)])
    algorithms = ["item_knn", "hybrid", "ranker"]
    tuned = tune(validation, algorithms, earlier=earlier)
    planted = tune(shifted, algorithms, earlier=earlier)
    for name in algorithms:
        assert tuned[name].out_of_sample
        assert tuned[name].scored_params == planted[name].scored_params, name
        scored = make(name, **tuned[name].scored_params).fit(validation.data)
        assert tuned[name].validation.ndcg == pytest.approx(evaluate(validation, scored.score).ndcg), name
    # What is kept for the test does read validation (its newest labels): the ranker's weights move.
    assert tuned["ranker"].params["weights"] != planted["ranker"].params["weights"]
    alone = tune(validation, ["item_knn"])  # no earlier window: in-sample, and said so
    assert not alone["item_knn"].out_of_sample
    assert alone["item_knn"].scored_params == alone["item_knn"].params
