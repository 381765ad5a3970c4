"""What happens inside visits: views, add-to-cart and checkout, for many sessions at once.

Everything is vectorised over all sessions of a window: no Python loop runs per session or
per event. A session

* has one or two interests (a category, or a brand the user likes) drawn from the user's
  taste mixture (see ``world._interest_tables``) and views products of them, each view drawn
  in proportion to popularity x exp(affinity);
* spaces its views by seconds to minutes (log-normal gaps);
* adds a viewed product to the cart with a probability that grows with affinity(u, p) and is
  higher in "intent" sessions (people who came to buy), except durables the user already owns;
* may check out: one order with the still-wanted cart lines (at most ``max_order_lines``),
  except durables the user already owns.

Whether a visit is an "intent" visit depends on the user: frequent visitors mostly browse
(``intent_activity_elasticity``), and right after an order both the intent odds and the
checkout odds drop, recovering over weeks (``cooldown_*``). Together these spread orders over
many users, as in real shops where most customers buy rarely.

Consumable re-buys are their own tiny sessions: view, add to cart, buy the same product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopcore.events import ADD_TO_CART, PURCHASE, VIEW
from shopcore.timeunits import US_PER_DAY, US_PER_SECOND
from simulator.sampling import PRICE_SENSITIVITY_GRID, lognormal32
from simulator.state import SimulationState
from simulator.world import Moment, World

_MAX_VIEWS = 60
_THINNING_ROUNDS = 4
_GAP_MEDIAN_S = 35.0
_GAP_SIGMA = 0.9


@dataclass
class SessionRows:
    """Event rows of a set of sessions, before delivery. Indices are local to the set."""

    session: np.ndarray  # int64 session index
    user: np.ndarray  # int64 user index
    product: np.ndarray  # int64 product index
    event_type: np.ndarray  # int8 VIEW / ADD_TO_CART / PURCHASE
    quantity: np.ndarray  # int32
    occurred_us: np.ndarray  # int64
    order: np.ndarray  # int64 order index, -1 if none
    n_sessions: int
    n_orders: int

    @staticmethod
    def stack(parts: list[SessionRows]) -> SessionRows:
        """Concatenate, renumbering sessions and orders so they stay distinct."""
        s_off = o_off = 0
        cols: dict[str, list[np.ndarray]] = {k: [] for k in (
            "session", "user", "product", "event_type", "quantity", "occurred_us", "order")}
        for part in parts:
            cols["session"].append(part.session + s_off)
            cols["order"].append(np.where(part.order >= 0, part.order + o_off, -1))
            for k in ("user", "product", "event_type", "quantity", "occurred_us"):
                cols[k].append(getattr(part, k))
            s_off += part.n_sessions
            o_off += part.n_orders
        return SessionRows(**{k: np.concatenate(v) for k, v in cols.items()},
                           n_sessions=s_off, n_orders=o_off)

    def purchases(self) -> np.ndarray:
        return np.flatnonzero(self.event_type == PURCHASE)


def _group_rank(group: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... inside runs of equal consecutive values of ``group``."""
    n = len(group)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
    run_len = np.diff(np.concatenate((starts, [n])))
    return np.arange(n) - np.repeat(starts, run_len)


def _quantity(world: World, product: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Durables come one at a time; consumables are sometimes stocked up (2-3)."""
    r = rng.random(len(product))
    extra = (r > 0.72).astype(np.int32) + (r > 0.92)
    return np.where(world.products.is_consumable[product], 1 + extra, 1).astype(np.int32)


def owned_durables(world: World, state: SimulationState, user: np.ndarray, product: np.ndarray) -> np.ndarray:
    """Which (user, product) pairs are durables the user already owns."""
    durable = ~world.products.is_consumable[product]
    owned = np.zeros(len(product), dtype=bool)
    owned[durable] = state.owns(state.ownership_keys(user[durable], product[durable]))
    return owned


def _session_cells(
    world: World, moment: Moment, s_user: np.ndarray, score: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The two sampling cells (interest x taste cluster) of each session: sessions x 2.

    Each interest is a draw from the user's taste mixture; it then picks a taste cluster with
    probability proportional to exp(taste . centre) x the cell's mass (a visit is about one
    style). Views of the cell (``_draw_views``) then follow popularity x exp(affinity) exactly.
    Seasons thin whole cells: a cell is kept with probability exp(its mean season - the
    day's largest), else drawn again (at most ``_THINNING_ROUNDS`` rounds).
    """
    users = world.users
    n_s = len(s_user)
    level = users.price_level[s_user]
    score_t = np.ascontiguousarray(score.T)  # clusters first: long rows for numpy
    e_score = np.exp(score_t - score_t.max(axis=0)).T  # (sessions, K)
    # The sessions' users' rows, gathered once from the big per-user table.
    s_cdf, s_liked = np.take(users.interest_cdf, s_user, axis=0), np.take(users.liked_brand, s_user, axis=0)
    cells = _draw_cells(world, s_cdf, s_liked, e_score, level, 2, rng)
    rows, slots = np.repeat(np.arange(n_s), 2), np.tile(np.arange(2), n_s)
    for round_ in range(_THINNING_ROUNDS):
        if round_:
            cells[rows, slots] = _draw_cells(world, np.take(s_cdf, rows, axis=0), np.take(s_liked, rows, axis=0),
                                             np.take(e_score, rows, axis=0), level[rows], 1,
                                             rng)[:, 0]
        if not moment.seasonal:
            break
        season = moment.cell_mean_season[cells[rows, slots]]
        again = rng.random(len(rows)) >= np.exp(season - moment.cell_mean_season_max)
        rows, slots = rows[again], slots[again]
        if len(rows) == 0:
            break
    return cells


def _draw_cells(
    world: World, cdf: np.ndarray, liked: np.ndarray, e_score: np.ndarray, level: np.ndarray,
    per_row: int, rng: np.random.Generator,
) -> np.ndarray:
    """``per_row`` cells for each row's user (their interest cdf, liked brands, cluster scores
    and price level): rows x per_row, drawn row by row, cell by cell (interests first).

    Cumulative sums and counts run a column (an interest, a cluster) at a time over every
    draw: the same additions in the same order as along each row, without numpy's per-row
    overhead on rows this short."""
    tables, n_cat = world.tables, world.n_categories
    k = tables.n_clusters
    m = len(cdf)
    u_interest = rng.random(m * per_row).reshape(m, per_row).T  # (per_row, rows)
    cdf_t = np.ascontiguousarray(cdf.T)
    # Narrow counters: a few interests or clusters, and a quarter of the memory traffic.
    interest = np.zeros((per_row, m), dtype=np.int16)
    for column in cdf_t:
        interest += column < u_interest
    interest = np.minimum(interest, cdf.shape[1] - 1).astype(np.int64)
    # Interests are the categories, then the liked brands' slots (``world._interest_tables``).
    slot = np.maximum(interest - n_cat, 0)
    brand = np.maximum(np.take_along_axis(liked.T, slot, axis=0), 0)
    seg = np.where(interest < n_cat, interest, n_cat + brand)
    # The cells' weights, a cluster at a time, weighed by the user's cluster scores.
    weight_t = tables.cell_weight_by_cluster
    at = level[None, :] * tables.cell_weight.shape[1] + seg
    e_score_t = e_score.T
    running = np.zeros((per_row, m), dtype=np.float32)
    cumulative = np.empty((k, per_row, m), dtype=np.float32)
    for j in range(k):
        running += np.take(weight_t[j], at) * e_score_t[j]
        cumulative[j] = running
    target = rng.random(m * per_row).reshape(m, per_row).T * running
    cluster = np.zeros((per_row, m), dtype=np.int16)
    for j in range(k):
        cluster += cumulative[j] < target
    cluster = np.minimum(cluster, k - 1).astype(np.int64)
    return (seg * k + cluster).T


def _draw_views(
    world: World, moment: Moment, cell: np.ndarray, level: np.ndarray, rng: np.random.Generator,
) -> np.ndarray:
    """One product per view of ``cell`` (``simulator.sampling``) for users of price level
    ``level``: popularity x exp(affinity) exactly. The day's prices then thin the draws inside
    the cell (rejection sampling, at most ``_THINNING_ROUNDS`` rounds: the few draws still
    rejected then stay), towards popularity x exp(affinity - price_sensitivity x
    price_log_ratio)."""
    tables = world.tables
    product = np.empty(len(cell), dtype=np.int64)
    todo = np.arange(len(cell))
    for _ in range(_THINNING_ROUNDS):
        drawn = tables.sample(cell[todo], level[todo], rng.random(len(todo)))
        product[todo] = drawn
        if not moment.price_moves:
            break
        s = PRICE_SENSITIVITY_GRID[level[todo]]
        shift = -s * moment.price_log_ratio[drawn]
        bound = s * moment.cell_cut[cell[todo]]
        todo = todo[rng.random(len(todo)) >= np.exp(shift - bound)]
        if len(todo) == 0:
            break
    return product


def _cart(
    world: World, state: SimulationState, moment: Moment, user: np.ndarray, product: np.ndarray,
    taste: np.ndarray, boost: np.ndarray, rng: np.random.Generator,
) -> np.ndarray:
    """Positions of the views that add to the cart: logit ``boost`` + slope x (the affinity -
    deal_response x price sensitivity x today's price_log_ratio), where ``taste`` holds the
    pairs' taste terms; never a durable the user owns. People notice a deal (or a rise) more
    than a price level, hence the response."""
    p = world.params
    sensitivity = world.users.sensitivity_of(user)
    affinity = world.pair_affinity(user, product, taste=taste, sensitivity=sensitivity)
    if moment.price_moves:
        affinity -= p.deal_response * sensitivity * moment.price_log_ratio[product]
    logit = boost + p.cart_affinity_slope * affinity
    wanted = np.flatnonzero(rng.random(len(user)) * (1.0 + np.exp(-logit)) < 1.0)
    # Ownership is looked up for the few wanted views only.
    return wanted[~owned_durables(world, state, user[wanted], product[wanted])]


def _complement_views(
    world: World, carted_product: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(position among the carts, complement product) of the complements looked at next."""
    rate = world.params.complement_view_rate
    comp = world.products.complements[carted_product]
    n_comp = (comp >= 0).sum(axis=1)
    go = np.flatnonzero((n_comp > 0) & (rng.random(len(carted_product)) < rate))
    slot = (rng.random(len(go)) * n_comp[go]).astype(np.int64)
    return go, comp[go, slot]


def browse(
    world: World,
    state: SimulationState,
    s_user: np.ndarray,
    s_start: np.ndarray,
    rng: np.random.Generator,
) -> SessionRows:
    """Views, carts and orders of organic sessions of users ``s_user`` starting at ``s_start``."""
    p = world.params
    users, products = world.users, world.products
    m = world.n_products
    n_s = len(s_user)
    ar_s = np.arange(n_s)

    # A recent order makes a visit less likely to be a buying one, for a while.
    since_days = (s_start - state.last_order_us[s_user]) / US_PER_DAY
    cooldown = 1.0 - p.cooldown_strength * np.exp(-since_days / p.cooldown_days)
    # Frequent visitors mostly browse, so orders spread over more users than visits do.
    p_intent = world.intent_shares()[s_user]
    intent = rng.random(n_s) < np.minimum(p_intent * cooldown, 1.0)
    mean_views = np.where(intent, p.mean_views_per_session * p.intent_views_factor,
                          p.mean_views_per_session)
    n_views = np.minimum(rng.geometric(1.0 / mean_views), _MAX_VIEWS)

    # Two interests per session (a category or a liked brand, each with one taste cluster).
    moment = world.moment(int(s_start.min()) if n_s else 0)
    score = np.take(users.taste, s_user, axis=0) @ world.taste_centres.T.astype(np.float32)  # (sessions, K)
    s_cells = _session_cells(world, moment, s_user, score, rng)

    # Views.
    v_sess = np.repeat(ar_s, n_views)
    n_v = len(v_sess)
    v_user = s_user[v_sess]
    use_primary = rng.random(n_v) < p.primary_interest_share
    v_cell = np.where(use_primary, s_cells[v_sess, 0], s_cells[v_sess, 1])
    v_prod = _draw_views(world, moment, v_cell, users.price_level[v_user], rng)
    cluster = products.taste_cluster

    # Times: each view is followed by a gap; the session ends after the last gap.
    gaps = np.clip(lognormal32(rng, np.log(_GAP_MEDIAN_S), _GAP_SIGMA, n_v), 3.0, 900.0)
    gaps = (gaps * US_PER_SECOND).astype(np.int64)
    csum = np.cumsum(gaps)
    before = csum - gaps
    first = np.cumsum(n_views) - n_views
    v_time = s_start[v_sess] + (before - before[first][v_sess])
    s_end = s_start + (csum[first + n_views - 1] - before[first])

    # Add to cart: likelier for products the user likes (at today's price) and in sessions
    # meant to buy; never a durable the user already owns (they look again, they don't buy twice).
    cart_boost = p.cart_bias + p.cart_intent_boost * intent[v_sess]
    carted = _cart(world, state, moment, v_user, v_prod, score[v_sess, cluster[v_prod]],
                   cart_boost, rng)
    c_sess, c_user, c_prod = v_sess[carted], v_user[carted], v_prod[carted]
    c_time = v_time[carted] + (rng.uniform(0.2, 0.8, len(carted)) * gaps[carted]).astype(np.int64)

    # Complements: a carted product sometimes leads to one of its complements (before the
    # next view), carted more readily than a product found by browsing.
    x_view = _complement_views(world, c_prod, rng)
    x_sess, x_user, x_prod = c_sess[x_view[0]], c_user[x_view[0]], x_view[1]
    boundary = (v_time + gaps)[carted][x_view[0]]
    x_time = c_time[x_view[0]] + (rng.uniform(0.1, 0.5, len(x_sess))
                                   * (boundary - c_time[x_view[0]])).astype(np.int64)
    x_carted = _cart(world, state, moment, x_user, x_prod, score[x_sess, cluster[x_prod]],
                     cart_boost[carted][x_view[0]] + p.complement_cart_boost, rng)
    x_cart_time = x_time[x_carted] + (rng.uniform(0.3, 0.8, len(x_carted))
                                      * (boundary[x_carted] - x_time[x_carted])).astype(np.int64)
    v_sess, v_user, v_prod = (np.concatenate((v_sess, x_sess)), np.concatenate((v_user, x_user)),
                              np.concatenate((v_prod, x_prod)))
    v_time = np.concatenate((v_time, x_time))
    n_v = len(v_sess)
    c_sess = np.concatenate((c_sess, x_sess[x_carted]))
    c_user = np.concatenate((c_user, x_user[x_carted]))
    c_prod = np.concatenate((c_prod, x_prod[x_carted]))
    c_time = np.concatenate((c_time, x_cart_time))
    # Carts in session and time order; one cart line per (session, product): a second view
    # of a carted product adds nothing.
    by_time = np.lexsort((c_time, c_sess))
    _, first_seen = np.unique(c_sess[by_time] * m + c_prod[by_time], return_index=True)
    keep = by_time[np.sort(first_seen)]
    c_sess, c_user, c_prod, c_time = c_sess[keep], c_user[keep], c_prod[keep], c_time[keep]
    c_qty = _quantity(world, c_prod, rng)

    # Checkout: intent sessions mostly buy; a recent order damps the urge for a while.
    has_cart = np.zeros(n_s, dtype=bool)
    has_cart[c_sess] = True
    p_checkout = np.where(intent, p.checkout_intent, p.checkout_browse) * cooldown
    checkout = has_cart & (rng.random(n_s) < p_checkout)

    lines = np.flatnonzero(checkout[c_sess])  # positions in the cart arrays, grouped by session
    rank = _group_rank(c_sess[lines])
    keep = (rank == 0) | (rng.random(len(lines)) < p.line_keep)
    lines = lines[keep]
    lines = lines[_group_rank(c_sess[lines]) < p.max_order_lines]

    # Durables: never bought twice by the same user (owned before, or earlier in this window).
    l_user, l_prod, l_sess = c_user[lines], c_prod[lines], c_sess[lines]
    durable = ~products.is_consumable[l_prod]
    keys = state.ownership_keys(l_user, l_prod)
    drop = durable & state.owns(keys)
    fresh = np.flatnonzero(durable & ~drop)
    if len(fresh):
        by_time = fresh[np.argsort(s_end[l_sess[fresh]], kind="stable")]
        _, first_buy = np.unique(keys[by_time], return_index=True)
        repeat = np.ones(len(by_time), dtype=bool)
        repeat[first_buy] = False
        drop[by_time[repeat]] = True
    lines = lines[~drop]
    l_sess = c_sess[lines]

    # One order per buying session, all its lines at the checkout instant.
    order_sess, l_order = np.unique(l_sess, return_inverse=True)
    pay_delay = rng.uniform(20, 180, len(order_sess)) * US_PER_SECOND
    checkout_at = s_end[order_sess] + pay_delay.astype(np.int64)

    n_c, n_l = len(c_sess), len(lines)
    return SessionRows(
        session=np.concatenate((v_sess, c_sess, l_sess)),
        user=np.concatenate((v_user, c_user, c_user[lines])),
        product=np.concatenate((v_prod, c_prod, c_prod[lines])),
        event_type=np.concatenate((
            np.full(n_v, VIEW, dtype=np.int8),
            np.full(n_c, ADD_TO_CART, dtype=np.int8),
            np.full(n_l, PURCHASE, dtype=np.int8),
        )),
        quantity=np.concatenate((np.ones(n_v, dtype=np.int32), c_qty, c_qty[lines])),
        occurred_us=np.concatenate((v_time, c_time, checkout_at[l_order])),
        order=np.concatenate((np.full(n_v + n_c, -1, dtype=np.int64), l_order.astype(np.int64))),
        n_sessions=n_s,
        n_orders=len(order_sess),
    )


def rebuy(
    world: World,
    due_us: np.ndarray,
    user: np.ndarray,
    product: np.ndarray,
    quantity: np.ndarray,
    rng: np.random.Generator,
) -> SessionRows:
    """Re-buy sessions of consumables that ran out: view, add to cart, purchase.

    Items of one user due at the same instant (``rebuy_together``) share one session and one
    order: each is viewed and carted in turn, then all are bought at once."""
    n = len(due_us)
    by_group = np.lexsort((product, due_us, user))
    due_us, user, product, quantity = due_us[by_group], user[by_group], product[by_group], quantity[by_group]
    new_group = (np.concatenate(([True], (user[1:] != user[:-1]) | (due_us[1:] != due_us[:-1])))
                 if n else np.empty(0, dtype=bool))
    group = np.cumsum(new_group) - 1
    n_groups = int(group[-1]) + 1 if n else 0
    step = _group_rank(group) * 60 * US_PER_SECOND  # a minute per item of the basket
    view_at = due_us + step
    cart_at = view_at + (rng.uniform(10, 50, n) * US_PER_SECOND).astype(np.int64)
    basket_end = np.zeros(n_groups, dtype=np.int64)
    np.maximum.at(basket_end, group, cart_at)
    buy_at = basket_end + (rng.uniform(30, 240, n_groups) * US_PER_SECOND).astype(np.int64)
    return SessionRows(
        session=np.tile(group, 3),
        user=np.tile(user, 3),
        product=np.tile(product, 3),
        event_type=np.repeat(np.array([VIEW, ADD_TO_CART, PURCHASE], dtype=np.int8), n),
        quantity=np.concatenate((np.ones(n, dtype=np.int32), quantity, quantity)).astype(np.int32),
        occurred_us=np.concatenate((view_at, cart_at, buy_at[group])),
        order=np.concatenate((np.full(2 * n, -1, dtype=np.int64), group)),
        n_sessions=n_groups,
        n_orders=n_groups,
    )


def record_purchases(
    world: World, state: SimulationState, rows: SessionRows, rng: np.random.Generator
) -> None:
    """Remember owned durables, schedule consumable re-buys and note users' last orders."""
    p = world.params
    products = world.products
    buys = rows.purchases()
    user, product, at = rows.user[buys], rows.product[buys], rows.occurred_us[buys]
    consumable = products.is_consumable[product]

    durable = ~consumable
    state.add_owned(state.ownership_keys(user[durable], product[durable]))

    # A consumable runs out after its cycle times the quantity bought (give or take); the
    # buyer comes back for it with probability rebuy_probability, each cycle anew. Whole days
    # keep the re-buy at the hour of day the user shops at.
    c = np.flatnonzero(consumable & (rng.random(len(buys)) < p.rebuy_probability))
    qty = rows.quantity[buys][c]
    cycle_days = products.repurchase_days[product[c]] * qty * rng.lognormal(0.0, 0.2, len(c))
    shift = rng.normal(0.0, 1.5, len(c))
    if p.rebuy_together and len(c):
        # One cycle per order (its lines' mean), so the basket runs out and comes back at once.
        order = rows.order[buys][c]
        _, inverse = np.unique(order, return_inverse=True)
        total = np.bincount(inverse, weights=cycle_days)
        cycle_days = (total / np.bincount(inverse))[inverse]
        shift = shift[np.unique(inverse, return_index=True)[1]][inverse]
    due = at[c] + np.maximum(np.round(cycle_days), 1).astype(np.int64) * US_PER_DAY
    due += (shift * 3600 * US_PER_SECOND).astype(np.int64)
    state.schedule_rebuys(due, user[c], product[c], qty)

    state.record_orders(user, at)
