"""A/B statistics (app/ab_statistics.py) on known inputs, against scipy and textbook figures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from app.ab_statistics import (
    SRM_ALPHA,
    Entries,
    Estimate,
    RatioSums,
    compare,
    fieller_lift,
    lift,
    ratio,
    sample_ratio,
    sample_ratio_of_entries,
    share,
)


def sums_of(lists: np.ndarray, outcome: np.ndarray) -> RatioSums:
    lists, outcome = lists.astype(float), outcome.astype(float)
    return RatioSums(len(lists), lists.sum(), outcome.sum(), (lists ** 2).sum(), (outcome ** 2).sum(),
                     (lists * outcome).sum())


def test_one_list_per_unit_gives_the_textbook_interval_of_a_proportion():
    # 1,000 lists, 120 clicked once: p = 0.12, se = sqrt(p (1 - p) / (n - 1)) with the sample variance.
    clicks = np.r_[np.ones(120), np.zeros(880)]
    found = ratio(sums_of(np.ones(1000), clicks))
    se = math.sqrt(0.12 * 0.88 / 999)
    assert found.value == pytest.approx(0.12)
    assert found.standard_error == pytest.approx(se)
    assert (found.low, found.high) == pytest.approx((0.12 - 1.959964 * se, 0.12 + 1.959964 * se), rel=1e-6)


def test_a_share_gets_wilsons_interval_at_the_effective_number_of_lists():
    # One list per unit: no clustering, so the effective number is the lists (n - 1 with the sample
    # variance) and the interval is Wilson's, as scipy gives it.
    clicks = np.r_[np.ones(120), np.zeros(880)]
    found = share(sums_of(np.ones(1000), clicks))
    wilson = stats.binomtest(120, 1000).proportion_ci(0.95, method="wilson")
    assert found.value == pytest.approx(0.12)
    assert (found.low, found.high) == pytest.approx((wilson.low, wilson.high), rel=2e-3)
    # Four lists per user, all clicked or none: 4,000 lists carry the evidence of 1,000, and the
    # interval is the one-list interval, twice as wide as 4,000 independent lists would give.
    clustered = share(sums_of(np.full(1000, 4), 4 * clicks))
    independent = stats.binomtest(480, 4000).proportion_ci(0.95, method="wilson")
    assert clustered.value == pytest.approx(0.12)
    assert (clustered.low, clustered.high) == pytest.approx((found.low, found.high), rel=1e-9)
    assert clustered.high - clustered.low > 1.9 * (independent.high - independent.low)


def test_a_share_near_one_on_a_small_sample_stays_inside_zero_to_one():
    # 30 users with two lists each, 29 clicked both: the normal interval passes 100%.
    lists, clicks = np.full(30, 2), np.r_[np.full(29, 2), 0]
    normal, found = ratio(sums_of(lists, clicks)), share(sums_of(lists, clicks))
    assert normal.high > 1
    assert 0 < found.low < found.value < found.high < 1
    # Every list clicked: no spread to measure, yet an interval below 100%, not a point.
    everything = share(sums_of(lists, lists))
    assert everything.value == 1 and everything.high == pytest.approx(1) and everything.low < 0.95
    nothing = share(sums_of(lists, np.zeros(30)))
    assert nothing.value == 0 and nothing.low == pytest.approx(0) and nothing.high > 0.05


def test_the_ratio_interval_is_the_delta_method_over_units():
    rng = np.random.default_rng(5)
    lists = rng.integers(1, 5, 400)
    clicks = rng.binomial(lists, 0.3)
    found = ratio(sums_of(lists, clicks))
    rate = clicks.sum() / lists.sum()
    residual = clicks - rate * lists  # the linearised ratio: var = var(y - R n) / (k mean(n)^2)
    expected = math.sqrt(np.var(residual, ddof=1) / (len(lists) * lists.mean() ** 2))
    assert found.value == pytest.approx(rate)
    assert found.standard_error == pytest.approx(expected, rel=1e-9)


def test_the_difference_of_two_arms_has_welchs_standard_error():
    rng = np.random.default_rng(11)
    a, b = rng.exponential(20, 3000), rng.exponential(22, 2500)  # revenue per list, one list per unit
    ea, eb = ratio(sums_of(np.ones(len(a)), a)), ratio(sums_of(np.ones(len(b)), b))
    welch = stats.ttest_ind(b, a, equal_var=False)
    assert math.hypot(ea.standard_error, eb.standard_error) == pytest.approx((b.mean() - a.mean()) / welch.statistic)


def test_lift_and_its_interval_on_the_log_scale():
    control = ratio(sums_of(np.ones(10_000), np.r_[np.ones(1000), np.zeros(9000)]))
    variant = ratio(sums_of(np.ones(10_000), np.r_[np.ones(1200), np.zeros(8800)]))
    found = lift(variant, control)
    error = math.sqrt((variant.standard_error / 0.12) ** 2 + (control.standard_error / 0.10) ** 2)
    assert found.value == pytest.approx(0.2)
    assert found.low == pytest.approx(1.2 * math.exp(-1.959964 * error) - 1, rel=1e-6)
    assert found.high == pytest.approx(1.2 * math.exp(1.959964 * error) - 1, rel=1e-6)
    assert found.significant  # z of about 4.5
    same = lift(control, control)
    assert same.value == pytest.approx(0.0) and not same.significant
    assert lift(None, control) is None and lift(variant, ratio(sums_of(np.ones(5), np.zeros(5)))) is None


def estimate(value: float, error: float) -> Estimate:
    return Estimate(value, value - 1.96 * error, value + 1.96 * error, error)


def test_revenue_lift_is_fiellers_interval_and_follows_the_test_of_the_difference():
    control, variant = estimate(1.0, 0.1), estimate(1.35, 0.12)
    found = fieller_lift(variant, control)
    assert found.value == pytest.approx(0.35)
    z = stats.norm.ppf(0.975)
    for ratio_at_end in (found.low + 1, found.high + 1):  # each end: variant - r x control at z errors
        assert (1.35 - ratio_at_end * 1.0) ** 2 == pytest.approx(z ** 2 * (0.12 ** 2 + ratio_at_end ** 2 * 0.1 ** 2))
    assert found.significant  # the difference 0.35, its error 0.156: z of 2.24
    assert not fieller_lift(estimate(1.3, 0.12), control).significant  # z of 1.92
    # An arm that drew a large buyer: its mean and its spread both rose. The log ratio reads a lift
    # (z 2.17); the difference (z 1.78) and so Fieller's interval do not.
    control, whale = estimate(1.0, 0.1), estimate(1.7, 0.38)
    assert lift(whale, control).significant
    assert not fieller_lift(whale, control).significant
    # A control not told apart from zero leaves the ratio unbounded: no lift. The low end stops at -100%.
    assert fieller_lift(variant, estimate(0.1, 0.06)) is None
    assert fieller_lift(estimate(0.05, 0.05), control).low == -1.0
    assert fieller_lift(None, control) is None and fieller_lift(variant, estimate(0.0, 0.0)) is None


def test_no_lists_or_a_single_unit_gives_no_estimate():
    assert ratio(RatioSums(0, 0, 0, 0, 0, 0)) is None
    assert ratio(RatioSums(1, 3, 1, 9, 1, 3)) is None


def test_sample_ratio_check_is_pearsons_chi_square():
    balanced = sample_ratio({"a": 5000, "b": 5000}, {"a": 1, "b": 1})
    assert balanced.p_value == pytest.approx(1.0) and not balanced.mismatch
    # chi2 = (100^2 + 100^2) / 5000 = 4 on one degree of freedom: p = 0.0455
    off = sample_ratio({"a": 5100, "b": 4900}, {"a": 1, "b": 1})
    assert off.p_value == pytest.approx(0.04550026)
    assert not off.mismatch
    # A 1:3 split observed as 2,600 : 7,400 (expected 2,500 : 7,500): chi2 = 4 + 1.333
    weighted = sample_ratio({"a": 2600, "b": 7400, "old": 50}, {"a": 1, "b": 3})
    assert weighted.expected == {"a": 2500.0, "b": 7500.0}
    assert weighted.p_value == pytest.approx(stats.chi2.sf(4 + 4 / 3, 1))
    broken = sample_ratio({"a": 5300, "b": 4700}, {"a": 1, "b": 1})
    assert broken.p_value < SRM_ALPHA and broken.mismatch
    assert sample_ratio({"a": 10}, {"a": 1}) is None and sample_ratio({}, {"a": 1, "b": 1}) is None


def test_sample_ratio_follows_the_split_each_user_entered_under():
    # A ramp: 2,000 users entered at 9:1, then 2,000 at 1:1. Against the split of their moment the
    # 2,800 : 1,200 entries match; against today's 1:1 alone they would read as a broken assignment.
    ramp = [Entries("popular", {"popular": 9, "model": 1}, 1800), Entries("model", {"popular": 9, "model": 1}, 200),
            Entries("popular", {"popular": 1, "model": 1}, 1000), Entries("model", {"popular": 1, "model": 1}, 1000)]
    fine = sample_ratio_of_entries(ramp, fallback={"popular": 1, "model": 1})
    assert fine.expected == pytest.approx({"popular": 2800, "model": 1200}) and fine.p_value == pytest.approx(1.0)
    assert sample_ratio({"popular": 2800, "model": 1200}, {"popular": 1, "model": 1}).mismatch
    # Entries whose split was not recorded take the fallback; an arm added later is expected only
    # from the users who entered once it had a weight.
    mixed = [Entries("popular", None, 500), Entries("model", None, 500),
             Entries("popular", {"popular": 1, "model": 1, "new": 2}, 240),
             Entries("model", {"popular": 1, "model": 1, "new": 2}, 260), Entries("new", {"popular": 1, "model": 1, "new": 2}, 500)]
    found = sample_ratio_of_entries(mixed, fallback={"popular": 1, "model": 1})
    assert found.expected == pytest.approx({"popular": 750, "model": 750, "new": 500})
    assert found.observed == {"popular": 740, "model": 760, "new": 500}
    assert found.p_value == pytest.approx(stats.chisquare([740, 760, 500], [750, 750, 500]).pvalue)
    # A user in an arm their split gave no weight is left out, not counted against the others.
    stray = sample_ratio_of_entries([*ramp, Entries("retired", {"popular": 1, "model": 1}, 80)], {})
    assert "retired" not in stray.observed and stray.p_value == pytest.approx(1.0)


def test_compare_measures_every_variant_against_the_control():
    def arm(clicked: int, revenue: float, purchases: int = 60) -> dict[str, float]:
        """1,000 users with one list each, `clicked` of them clicked (click-through counts lists)."""
        return {"users": 1000, "impressions": 1000, "clicked_lists": clicked, "purchases": purchases,
                "lists_squared": 1000, "clicked_lists_squared": clicked, "lists_clicked_lists": clicked,
                "revenue": revenue, "revenue_squared": revenue * 50.0, "lists_revenue": revenue}

    results = compare({"popular": arm(100, 1000.0), "model": arm(180, 2000.0)}, control="popular")
    assert [result.variant for result in results] == ["popular", "model"]
    assert results[0].click_lift is None and results[0].click_through.value == pytest.approx(0.10)
    assert results[1].click_lift.value == pytest.approx(0.8) and results[1].click_lift.significant
    assert results[1].revenue_per_list.value == pytest.approx(2.0) and results[1].revenue_lift is not None
    # Too few purchases in either arm: revenue per list is shown without an interval, and no lift.
    few = compare({"popular": arm(100, 1000.0, purchases=49), "model": arm(180, 2000.0)}, control="popular")
    assert not few[0].enough_purchases and few[1].enough_purchases and few[1].revenue_lift is None
    assert few[1].click_lift.significant
