"""Parameters of one simulated shop: its size, its seed, its time window and its behaviour knobs.

Everything the simulator draws is a function of these values, so the same parameters always
give the same shop and the same events. The defaults describe a small shop (5,000 users,
1,000 products, 120 days, roughly half a million events) that tests can afford to build.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from simulator.scenarios import SCENARIOS, scenario_params


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class SimulationParams:
    """Size, seed, window and tunables of a synthetic shop.

    The simulated window is ``[end - days, end)``. Users sign up from ``signup_lead_days``
    before the window start until ``end``; products exist before the window starts.
    """

    users: int = 40000
    products: int = 1000
    days: int = 120
    seed: int = 42
    end: datetime = field(default_factory=_utc_now)
    scenario: str = "general"  # the kind of shop (``simulator.scenarios``): its catalogue

    # --- users -------------------------------------------------------------------------
    signup_lead_days: float = 90.0  # the oldest accounts were opened this long before the window
    signup_growth: float = 3.0  # signups/day at the window end divided by signups/day at the oldest point
    mean_activity: float = 0.2  # mean sessions/day of a freshly signed-up user (before seasonality)
    activity_sigma: float = 1.0  # log-normal spread of activity: a few users visit very often
    engagement_days: float = 1.0  # median time constant of each user's engagement decay
    engagement_sigma: float = 3.2  # log-normal spread of it: most never return, a few stay for years
    taste_concentration: float = 0.4  # Dirichlet alpha scale: smaller means users like fewer categories
    liked_brands_mean: float = 1.5  # mean number of brands a user likes (capped at 4)
    price_sensitivity_median: float = 0.8

    # --- latent tastes (``simulator.world``: the taste term of the affinity) --------------
    taste_dims: int = 16  # dimensions of the taste space
    taste_clusters: int = 16  # styles/genres: centres that products and users gather around
    taste_scale: float = 1.2  # spread of the taste term over products, for a typical user

    # --- catalogue -----------------------------------------------------------------------
    popularity_exponent: float = 1.0  # Zipf exponent of popularity inside a category
    complement_view_rate: float = 0.2  # chance a carted product leads to viewing a complement
    complement_cart_boost: float = 1.5  # logit added to carting that complement
    price_change_days: float = 120.0  # mean days between list price changes (0: never)
    promotion_days: float = 60.0  # mean days between a product's promotions (0: never)
    season_strength: float = 0.0  # products have a season: log-weight of views at its peak
    deal_response: float = 3.0  # a price change weighs this many times the price level in carting

    # --- sessions --------------------------------------------------------------------------
    mean_views_per_session: float = 4.0
    primary_interest_share: float = 0.7  # share of a session's views in its main interest
    intent_share: float = 0.12  # sessions that arrive meaning to buy
    intent_views_factor: float = 1.5  # ... and look at more products than browsing sessions
    intent_activity_elasticity: float = 0.25  # frequent visitors mostly browse: intent ~ activity^-e
    cart_bias: float = -4.95  # logit of add-to-cart for a browsing view at affinity 0
    cart_intent_boost: float = 3.0  # logit added for views in an intent session
    cart_affinity_slope: float = 0.45  # logit added per unit of affinity(u, p)
    checkout_intent: float = 0.70  # checkout probability of an intent session with a cart
    checkout_browse: float = 0.15  # checkout probability of a browsing session with a cart
    line_keep: float = 0.7  # chance a carted item is still in the basket at checkout
    max_order_lines: int = 4
    cooldown_strength: float = 0.5  # right after an order, the odds of a buying visit and of a
    cooldown_days: float = 60.0  # checkout drop by this share, recovering with this time constant
    rebuy_probability: float = 0.45  # chance a consumable buyer comes back when it runs out
    rebuy_together: bool = False  # what one order bought runs out at once, re-bought in one order

    # --- closed loop (live mode: sessions that start from the API's recommendations) -----
    loop_share: float = 0.3  # share of live sessions that start by asking for recommendations
    loop_click_bias: float = -1.5  # logit of clicking a recommended product at affinity 0, rank 1
    loop_click_affinity_slope: float = 1.0  # logit added per unit of affinity(u, p)

    # --- delivery defects ---------------------------------------------------------------------
    duplicate_rate: float = 0.005
    late_rate: float = 0.01
    messy_type_rate: float = 0.002
    max_lateness: timedelta = timedelta(days=3)

    def __post_init__(self) -> None:
        for name in ("users", "products", "days", "max_order_lines", "taste_dims",
                     "taste_clusters"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if not isinstance(self.rebuy_together, bool):
            raise ValueError(f"rebuy_together must be true or false, got {self.rebuy_together!r}")
        if self.scenario not in SCENARIOS:
            raise ValueError(
                f"scenario must be one of {', '.join(SCENARIOS)}, got {self.scenario!r}"
            )
        if not isinstance(self.end, datetime):
            raise ValueError(f"end must be a datetime, got {type(self.end).__name__}")
        if self.end.tzinfo is None or self.end.utcoffset() is None:
            raise ValueError(
                "end must be timezone-aware (for example datetime(2025, 12, 15, tzinfo=timezone.utc))"
            )
        # Keep one canonical form so equal windows compare and serialise equally.
        object.__setattr__(self, "end", self.end.astimezone(timezone.utc))
        if self.end - timedelta(days=self.days + self.signup_lead_days) < datetime(
            1971, 1, 1, tzinfo=timezone.utc
        ):
            raise ValueError("end minus days minus signup_lead_days must be after 1971-01-01")

        positive = (
            "signup_lead_days", "signup_growth", "mean_activity", "engagement_days",
            "taste_concentration", "price_sensitivity_median", "mean_views_per_session",
            "cooldown_days", "intent_views_factor",
        )
        for name in positive:
            self._check_float(name, low=0.0, low_inclusive=False)
        for name in ("activity_sigma", "engagement_sigma", "liked_brands_mean", "popularity_exponent",
                     "intent_activity_elasticity", "taste_scale", "price_change_days",
                     "promotion_days", "season_strength", "complement_cart_boost", "deal_response"):
            self._check_float(name, low=0.0)
        if self.mean_views_per_session < 1.0:
            raise ValueError(
                f"mean_views_per_session must be >= 1, got {self.mean_views_per_session!r}"
            )
        probabilities = (
            "primary_interest_share", "intent_share", "checkout_intent", "checkout_browse",
            "line_keep", "cooldown_strength", "rebuy_probability", "duplicate_rate",
            "late_rate", "messy_type_rate", "loop_share", "complement_view_rate",
        )
        for name in probabilities:
            self._check_float(name, low=0.0, high=1.0)
        for name in ("cart_bias", "cart_intent_boost", "cart_affinity_slope", "loop_click_bias",
                     "loop_click_affinity_slope"):
            self._check_float(name)
        if not isinstance(self.max_lateness, timedelta) or self.max_lateness < timedelta(hours=1):
            raise ValueError(
                f"max_lateness must be a timedelta of at least 1 hour, got {self.max_lateness!r}"
            )

    def _check_float(
        self, name: str, *, low: float | None = None, high: float | None = None,
        low_inclusive: bool = True,
    ) -> None:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        if low is not None and (value < low or (value == low and not low_inclusive)):
            bound = ">=" if low_inclusive else ">"
            raise ValueError(f"{name} must be {bound} {low}, got {value!r}")
        if high is not None and value > high:
            raise ValueError(f"{name} must be <= {high}, got {value!r}")

    @classmethod
    def for_scenario(cls, scenario: str = "general", **fields_: Any) -> SimulationParams:
        """Parameters of a scenario's preset (``simulator.scenarios``); ``fields_`` win over it."""
        if scenario not in SCENARIOS:
            raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}, got {scenario!r}")
        return cls(scenario=scenario, **{**scenario_params(scenario), **fields_})

    @property
    def start(self) -> datetime:
        """First instant of the simulated window."""
        return self.end - timedelta(days=self.days)

    def replace(self, **changes: Any) -> SimulationParams:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-able values, e.g. for ``truth.simulation_runs.parameters``."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, timedelta):
                value = value.total_seconds()
            out[f.name] = value
        return out
