"""Realism figures of a generated history, measured the way the warehouse would.

Rows are de-duplicated on event_id (as staging does) before anything is counted, except the
delivery figures (duplicates, late rows) that describe the raw delivery. Used by the realism
tests (tests/simulator) and by ``benchmarks/realism.py``, which prints them per scenario next
to the public-data figures they aim at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopcore.events import ADD_TO_CART, PURCHASE, VIEW
from shopcore.timeunits import US_PER_DAY
from simulator.batch import EventBatch
from simulator.world import World


def _key(*byte_columns: np.ndarray) -> np.ndarray:
    glued = np.ascontiguousarray(np.concatenate(byte_columns, axis=1))
    return glued.view(f"V{glued.shape[1]}").ravel()


@dataclass(frozen=True)
class Figures:
    rows: int  # delivered rows
    events: int  # distinct events
    users_with_events: int
    events_per_user: float
    one_session_share: float  # users with events who have exactly one session
    top_decile_event_share: float  # events of the busiest tenth of those users
    cohort_month1: float  # signup cohorts active in their first later calendar month
    cohort_month3: float  # ... in their third
    views_per_session: float
    orders_per_session: float
    season_lift: float  # share of views in season (45 days of the peak) / share of products in season
    top_fifth_view_share: float  # views of the most viewed fifth of the products
    cart_per_view: float
    purchase_per_cart: float
    lines_per_order: float
    max_lines: int
    repeat_buyers_90d: float  # buyers with a second order within 90 days of their first
    reorder_share: float  # purchase lines of a product the user bought before (in the window)
    rebought_durable_pairs: int  # (user, durable product) bought twice: must be 0
    complement_order_share: float  # orders of 2+ lines holding a product and its complement
    mean_unit_price: float  # dollars, over purchased units
    promotion_purchase_share: float  # purchase lines bought on a promotion
    duplicate_share: float
    late_share: float  # rows that arrive more than an hour after they occurred


def _cohorts(world: World, user: np.ndarray, at_us: np.ndarray, k: int) -> float:
    """Share of signup-month cohorts active (a session) in their k-th later month, over the
    months that lie entirely inside the window; NaN when there is none."""
    start = np.datetime64(world.params.start.replace(tzinfo=None), "us")
    end = np.datetime64(world.params.end.replace(tzinfo=None), "us")
    first_full = (start.astype("datetime64[M]") + (start != start.astype("datetime64[M]")))
    last_full = end.astype("datetime64[M]") - 1  # months that end by the window end
    signup_month = world.users.signup_at.astype("datetime64[M]")
    active_month = at_us.view("datetime64[us]").astype("datetime64[M]")
    total = hits = 0
    for month in np.arange(first_full, last_full + 1):
        cohort = np.flatnonzero(signup_month == month - k)
        if len(cohort) == 0:
            continue
        active = np.unique(user[active_month == month])
        hits += np.isin(cohort, active).sum()
        total += len(cohort)
    return hits / total if total else float("nan")


def measure(world: World, raw: EventBatch) -> Figures:
    _, first = np.unique(_key(raw.event_id), return_index=True)
    e = raw.take(np.sort(first))
    kind = e.event_type_code()
    occurred = e.occurred_at.astype("datetime64[us]").view(np.int64)

    # Visitors and sessions.
    sid = _key(e.session_id)
    _, s_first = np.unique(sid, return_index=True)
    sessions_per_user = np.bincount(e.user_id[s_first])
    has = sessions_per_user > 0
    events_per_user = np.bincount(e.user_id)[has]
    top = np.sort(events_per_user)[::-1][: max(len(events_per_user) // 10, 1)]

    # Funnel and catalogue.
    views = e.product_id[kind == VIEW]
    view_day = occurred[kind == VIEW] // US_PER_DAY
    days, day_of_view = np.unique(view_day, return_inverse=True)
    off_peak = np.abs(days[:, None] % 365.25 - world.products.season_peak[None, :])
    in_season_table = np.minimum(off_peak, 365.25 - off_peak) <= 45  # days x products
    in_season = in_season_table[day_of_view, views - 1]
    catalogue_in_season = in_season_table.mean(axis=1)[day_of_view]
    per_product = np.sort(np.bincount(views, minlength=world.n_products + 1)[1:])[::-1]
    n_cart, n_buy = int(np.sum(kind == ADD_TO_CART)), int(np.sum(kind == PURCHASE))

    # Orders.
    p = np.flatnonzero(kind == PURCHASE)
    oid = _key(e.order_id[p])
    _, o_first, o_inverse, lines = np.unique(oid, return_index=True, return_inverse=True,
                                             return_counts=True)
    o_user, o_at = e.user_id[p][o_first], occurred[p][o_first]
    order = np.lexsort((o_at, o_user))
    u, t = o_user[order], o_at[order]
    firsts = np.flatnonzero(np.concatenate(([True], u[1:] != u[:-1])))
    n_orders = np.diff(np.concatenate((firsts, [len(u)])))
    multi = n_orders > 1
    again = np.zeros(len(firsts), dtype=bool)
    again[multi] = t[firsts[multi] + 1] - t[firsts[multi]] <= 90 * US_PER_DAY

    # Re-orders: purchase lines of a (user, product) bought in an earlier order.
    pair = e.user_id[p].astype(np.int64) * (world.n_products + 1) + e.product_id[p]
    by = np.lexsort((occurred[p], pair))
    seen_before = np.concatenate(([False], pair[by][1:] == pair[by][:-1]))
    durable = ~world.products.is_consumable[e.product_id[p] - 1]
    rebought_durables = int((seen_before & durable[by]).sum())

    # Orders that hold a product together with one of its complements.
    comp = world.products.complements
    line_prod = e.product_id[p] - 1
    in_order = set(zip(o_inverse.tolist(), line_prod.tolist()))
    with_pair = set()
    for o, prod in in_order:
        for c in comp[prod]:
            if c >= 0 and (o, int(c)) in in_order:
                with_pair.add(o)
    multi_line = int((lines > 1).sum())

    # Prices.
    units = e.quantity[p]
    promo = world.prices.promotion[world.prices.index_at(e.product_id[p] - 1, occurred[p])]

    lag_s = (raw.loaded_at - raw.occurred_at).astype("timedelta64[us]").astype(np.int64) / 1e6
    return Figures(
        rows=len(raw),
        events=len(e),
        users_with_events=int(has.sum()),
        events_per_user=float(events_per_user.mean()) if has.any() else 0.0,
        one_session_share=float(np.mean(sessions_per_user[has] == 1)) if has.any() else float("nan"),
        top_decile_event_share=float(top.sum() / events_per_user.sum()) if has.any() else float("nan"),
        cohort_month1=_cohorts(world, e.user_id[s_first] - 1, occurred[s_first], 1),
        cohort_month3=_cohorts(world, e.user_id[s_first] - 1, occurred[s_first], 3),
        views_per_session=len(views) / max(len(s_first), 1),
        orders_per_session=len(lines) / max(len(s_first), 1),
        season_lift=float(in_season.mean() / catalogue_in_season.mean()) if len(views) else float("nan"),
        top_fifth_view_share=float(per_product[: max(world.n_products // 5, 1)].sum()
                                   / max(per_product.sum(), 1)),
        cart_per_view=n_cart / max(len(views), 1),
        purchase_per_cart=n_buy / max(n_cart, 1),
        lines_per_order=float(lines.mean()) if len(lines) else 0.0,
        max_lines=int(lines.max()) if len(lines) else 0,
        repeat_buyers_90d=float(again.mean()) if len(again) else float("nan"),
        reorder_share=float(seen_before.mean()) if len(p) else float("nan"),
        rebought_durable_pairs=rebought_durables,
        complement_order_share=len(with_pair) / multi_line if multi_line else 0.0,
        mean_unit_price=float((e.unit_price_cents[p] * units).sum() / max(units.sum(), 1) / 100),
        promotion_purchase_share=float(promo.mean()) if len(p) else 0.0,
        duplicate_share=1 - len(e) / len(raw),
        late_share=float(np.mean(lag_s > 3600)),
    )
