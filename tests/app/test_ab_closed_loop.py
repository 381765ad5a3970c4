"""A/B statistics on a closed-loop run: simulated users of the test shop ask the real API, which
serves the popular list to half of them and the trained model's to the other half (by its hash of
the user id), and react to what they are shown (simulator.closed_loop)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from app.ab_statistics import compare, sample_ratio
from tests.api.support import ApiServer
from tests.app import ab_support

pytestmark = pytest.mark.slow

# One run serves every test, sized for power: a few hundred sessions left the model's lift in
# click-through a lower bound close enough to zero on some seeds (and some days: the test shop ends
# now) that a run could miss it, a loss of four lists in ten in one arm reached the sample-ratio
# check's threshold only some of the time, and revenue per list is judged in A/A splits only with
# MIN_PURCHASES lines in both arms.
SESSIONS = 2400
SPLIT = {"popular": 1.0, "model": 1.0}
# A few hundred judged A/A splits leave the share of false lifts a binomial noise of about two
# points around its true value.
AA_SEEDS = 1000


@pytest.fixture(scope="module")
def ab_api(built_shop, served_api, tmp_path_factory) -> Iterator[ApiServer]:
    """The API serving the two arms; `served_api` has trained the model the `model` variant serves."""
    env = {**built_shop.env, "SHOP_API_VARIANTS": "popular=popular:1,model=current:1"}
    server = ApiServer(env, tmp_path_factory.mktemp("ab-api") / "api.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def units(built_shop, ab_api) -> ab_support.LoopLog:
    """The closed-loop run's log."""
    with built_shop.database.connect() as conn:
        return ab_support.run_closed_loop(conn, ab_api.url, SESSIONS, seed=2)


def test_the_model_beats_popular_on_click_through_and_the_assignment_matches_the_split(units):
    by_variant = ab_support.log_units(units)
    sums = ab_support.arm_sums(by_variant, by_variant.variant)
    results = {result.variant: result for result in compare(sums, control="popular")}
    assert set(results) == {"popular", "model"}
    assert results["model"].click_lift.significant and results["model"].click_lift.low > 0
    check = sample_ratio({name: row["new_users"] for name, row in sums.items()}, SPLIT)
    assert not check.mismatch, check


def test_a_logging_failure_in_one_arm_is_a_sample_ratio_mismatch(units):
    by_variant = ab_support.log_units(units)
    sums = ab_support.arm_sums(by_variant, by_variant.variant)
    users = {name: row["new_users"] for name, row in sums.items()}
    users["model"] *= 0.6  # four lists in ten of one arm never reached the log
    assert sample_ratio(users, SPLIT).mismatch


def test_an_aa_split_of_the_same_users_shows_no_significant_lift_in_nine_seeds_in_ten(units):
    per_user = ab_support.log_units(units, per_user=True)
    click_lifts = revenue_lifts = judged = 0
    for seed in range(AA_SEEDS):
        sums = ab_support.arm_sums(per_user, ab_support.hashed_arms(per_user.user, seed))
        b = next(result for result in compare(sums, control="A") if result.variant == "B")
        click_lifts += b.click_lift.significant
        if b.revenue_lift is not None:  # judged only with enough purchases in both arms
            judged += 1
            revenue_lifts += b.revenue_lift.significant
    assert click_lifts <= 0.10 * AA_SEEDS, click_lifts
    assert judged >= 0.05 * AA_SEEDS, judged  # revenue per list is judged, not skipped
    assert revenue_lifts <= 0.10 * judged, (revenue_lifts, judged)
    assert np.isclose(per_user.lists.sum(), len(units.lists))
