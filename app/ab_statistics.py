"""A/B statistics of the recommender's variants: rates per list served with 95% intervals, the lift of
each variant over the control, and the sample-ratio-mismatch (SRM) check of the assignment.

The unit of analysis is a user in a variant over the period: the lists they were served and what
followed (lists clicked, revenue). The API assigns users, not visits or days, to variants, so a
user's days are one cluster: counting each day as a unit would take a returning user's correlated
days for independent evidence and narrow the intervals. Click-through = clicked lists / lists is a
ratio of two sums over the units, so its variance comes from the delta method over the units' sums,
squares and cross products (app/queries.variant_performance adds marts.recommendation_user_days up
per user over the period). Click-through is a share, so its interval is Wilson's score interval at
the effective number of lists (the lists divided by the design effect of the clustering): a normal
interval passes 100% (or 0%) for a share near it on a small sample; Wilson's stays inside and does
not collapse to a point when every list was clicked.

The lift is the ratio of two independent arms' rates minus one. Click-through's interval is the delta
method on the log of that ratio, so it never crosses -100%. Revenue per list's is Fieller's, whose
verdict is the two-sample test of the difference: between equal arms a large buyer's skew cancels in
the difference, while the log ratio found false lifts in up to one A/A split in ten where one buyer
held much of the revenue. The SRM check asks whether the users who entered
the experiment (their first list from any variant) landed in the arms as the split of their moment
says: the API's variant weights recorded with that list (the configured split for lists served
before it recorded them), so a split ramped during the period is not read as a broken assignment.
A chi-square goodness-of-fit test, with a warning below p = 0.001.

Revenue per list gets an interval (and a lift) only once every compared arm has MIN_PURCHASES
purchase lines: below that the A/A test found far more than 5% false lifts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from scipy import stats

CONFIDENCE = 0.95
SRM_ALPHA = 0.001
# Revenue per list is a sum of a few large orders: its normal interval undercovers until each arm
# has enough purchases (the README's A/B statistics section has the A/A figures behind this).
MIN_PURCHASES = 50
_Z = float(stats.norm.ppf(0.5 + CONFIDENCE / 2))


@dataclass(frozen=True)
class RatioSums:
    """Sums over the units of one arm for an outcome per list: units, lists (n), outcome (y), and the
    squares and cross product the variance needs."""

    units: float
    lists: float
    outcome: float
    lists_squared: float
    outcome_squared: float
    lists_outcome: float


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    standard_error: float


@dataclass(frozen=True)
class Lift:
    """Relative change of a variant's rate over the control's (0.12 = 12% higher)."""

    value: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class SampleRatioCheck:
    observed: dict[str, float]
    expected: dict[str, float]
    p_value: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < SRM_ALPHA


def ratio(sums: RatioSums) -> Estimate | None:
    """Outcome per list with its interval; None without lists, or with fewer than two units."""
    k = sums.units
    if sums.lists <= 0 or k < 2:
        return None
    rate = sums.outcome / sums.lists
    mean_lists = sums.lists / k
    var_lists = (sums.lists_squared - sums.lists ** 2 / k) / (k - 1)
    var_outcome = (sums.outcome_squared - sums.outcome ** 2 / k) / (k - 1)
    covariance = (sums.lists_outcome - sums.lists * sums.outcome / k) / (k - 1)
    variance = (var_outcome - 2 * rate * covariance + rate ** 2 * var_lists) / (k * mean_lists ** 2)
    error = math.sqrt(max(variance, 0.0))
    return Estimate(rate, rate - _Z * error, rate + _Z * error, error)


def share(sums: RatioSums) -> Estimate | None:
    """A share of lists (an outcome of 0 or 1 per list, such as clicked) with Wilson's score interval
    at the effective number of lists, p (1 - p) / se^2: the lists whose binomial variance equals the
    delta method's. At a share of 0 or 1 the units show no spread to measure clustering by, and every
    list counts. The standard error (for lifts) stays the delta method's."""
    estimate = ratio(sums)
    if estimate is None:
        return None
    p, n = estimate.value, sums.lists
    binomial = p * (1 - p)
    effective = binomial / estimate.standard_error ** 2 if binomial > 0 and estimate.standard_error > 0 else n
    z2 = _Z ** 2
    centre = (p + z2 / (2 * effective)) / (1 + z2 / effective)
    half = _Z / (1 + z2 / effective) * math.sqrt(binomial / effective + z2 / (4 * effective ** 2))
    return Estimate(p, max(centre - half, 0.0), min(centre + half, 1.0), estimate.standard_error)


def lift(variant: Estimate | None, control: Estimate | None) -> Lift | None:
    """The variant's rate over the control's, minus one, with its interval; None when either rate is
    missing or zero (a ratio to nothing, or a log of nothing)."""
    if variant is None or control is None or variant.value <= 0 or control.value <= 0:
        return None
    log_ratio = math.log(variant.value / control.value)
    error = math.sqrt((variant.standard_error / variant.value) ** 2 + (control.standard_error / control.value) ** 2)
    return Lift(math.exp(log_ratio) - 1, math.exp(log_ratio - _Z * error) - 1, math.exp(log_ratio + _Z * error) - 1)


def fieller_lift(variant: Estimate | None, control: Estimate | None) -> Lift | None:
    """The variant's rate over the control's, minus one, with Fieller's interval: the ratios r for
    which variant - r x control is within the interval of its standard error. It is significant
    exactly when the two-sample test of the difference is, and that test suits a sum of a few large
    orders: a large buyer raises the mean and the spread of the arm that drew them alike, where the
    log ratio's interval reads them as a lift. None when either rate is missing or the control's is
    not told apart from zero (the interval has no upper end); the low end stops at -100%."""
    if variant is None or control is None or variant.value <= 0 or control.value <= 0:
        return None
    z2 = _Z ** 2
    a, b, sa, sb = control.value, variant.value, control.standard_error, variant.standard_error
    leading = a * a - z2 * sa * sa
    if leading <= 0:
        return None
    half = math.sqrt(max(z2 * (a * a * sb * sb + b * b * sa * sa - z2 * sa * sa * sb * sb), 0.0))
    return Lift(b / a - 1, max((a * b - half) / leading - 1, -1.0), (a * b + half) / leading - 1)


@dataclass(frozen=True)
class Entries:
    """Users who entered the experiment in one arm under one split: the API's weights when their
    first list was served (None: not recorded, the fallback split applies)."""

    variant: str
    weights: Mapping[str, float] | None
    users: float


def sample_ratio_of_entries(entries: Iterable[Entries], fallback: Mapping[str, float]) -> SampleRatioCheck | None:
    """Chi-square test of the users per arm against what their splits expect: each user adds the
    shares of the split they entered under to the arms' expected counts. Users of an arm their
    split did not weight are left out; None with fewer than two weighted arms or no user in them."""
    observed: dict[str, float] = {}
    expected: dict[str, float] = {}
    for entry in entries:
        split = {name: weight for name, weight in (entry.weights or fallback).items() if weight > 0}
        if entry.variant not in split:
            continue
        observed[entry.variant] = observed.get(entry.variant, 0.0) + entry.users
        total = sum(split.values())
        for name, weight in split.items():
            expected[name] = expected.get(name, 0.0) + entry.users * weight / total
    arms: Sequence[str] = list(expected)
    counts = [observed.get(name, 0.0) for name in arms]
    if len(arms) < 2 or sum(counts) <= 0:
        return None
    p_value = float(stats.chisquare(counts, f_exp=[expected[name] for name in arms]).pvalue)
    return SampleRatioCheck(dict(zip(arms, counts, strict=True)), dict(expected), p_value)


def sample_ratio(observed: Mapping[str, float], weights: Mapping[str, float]) -> SampleRatioCheck | None:
    """Chi-square test of the users per arm against one split's weights (arms without a weight are
    left out); None with fewer than two weighted arms or no user in them."""
    return sample_ratio_of_entries((Entries(name, None, users) for name, users in observed.items()), weights)


@dataclass(frozen=True)
class VariantResult:
    variant: str
    click_through: Estimate | None
    revenue_per_list: Estimate | None
    click_lift: Lift | None  # None for the control itself
    revenue_lift: Lift | None
    enough_purchases: bool  # whether revenue per list's interval can be trusted (MIN_PURCHASES)


def click_sums(row: Mapping[str, float]) -> RatioSums:
    """Click-through, the share of lists clicked, from one variant's sums (the columns of
    marts.recommendation_variant_daily)."""
    return RatioSums(row["users"], row["impressions"], row["clicked_lists"], row["lists_squared"],
                     row["clicked_lists_squared"], row["lists_clicked_lists"])


def revenue_sums(row: Mapping[str, float]) -> RatioSums:
    """Attributed revenue per list from one variant's sums."""
    return RatioSums(row["users"], row["impressions"], row["revenue"], row["lists_squared"], row["revenue_squared"],
                     row["lists_revenue"])


def compare(variants: Mapping[str, Mapping[str, float]], control: str) -> list[VariantResult]:
    """Each variant's click-through and revenue per list, and its lift over `control`, in the given order."""
    clicks = {name: share(click_sums(row)) for name, row in variants.items()}
    revenue = {name: ratio(revenue_sums(row)) for name, row in variants.items()}
    enough = {name: row["purchases"] >= MIN_PURCHASES for name, row in variants.items()}
    return [
        VariantResult(
            name, clicks[name], revenue[name],
            None if name == control else lift(clicks[name], clicks.get(control)),
            None if name == control or not (enough[name] and enough.get(control, False))
            else fieller_lift(revenue[name], revenue.get(control)),
            enough[name],
        )
        for name in variants
    ]
