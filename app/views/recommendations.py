"""Recommendations: one user's recent history (marts) and what the recommender API suggests now.

The history comes from the warehouse and shows even when the API is down; the API's sections say
clearly when it cannot be reached and how to start it.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from app import ab_statistics, api_client, filters, formatting, queries, ui
from app.errors import ApiUnavailable
from app.periods import Period

RECOMMENDATIONS_K = 10
VARIANT_MODEL_COLUMNS = ["variant", "source", "weight", "model_id", "loaded_at", "error"]
VARIANT_COLUMNS = [
    "variant", "impressions", "clicked_lists", "click_through", "clicks", "add_to_carts", "purchases", "purchase_rate",
    "revenue",
]


def plural(number: float, noun: str) -> str:
    return f"{formatting.count(number)} {noun}{'' if number == 1 else 's'}"


def api_unavailable(exc: ApiUnavailable) -> None:
    st.warning(str(exc), icon=":material/link_off:")


def items_table(items: list[api_client.RecommendedItem]) -> None:
    frame = pd.DataFrame([item.__dict__ for item in items])
    ui.table(
        frame[["product_id", "name", "category", "price", "score", "reason"]],
        column_config={
            "product_id": st.column_config.NumberColumn("Product", format="%d"),
            "name": "Name",
            "category": "Category",
            "price": ui.money_column("Price"),
            "score": st.column_config.NumberColumn("Score", format="%.3f"),
            "reason": st.column_config.TextColumn("Why", width="large"),
        },
    )


def pick_user() -> int | None:
    users = queries.recent_users()
    if users.empty:
        return None
    labels = {
        int(row.user_id): f"#{row.user_id} · {formatting.text(row.full_name)} · {plural(row.orders, 'order')}"
        for row in users.itertuples()
    }
    return st.selectbox(
        "User (most recently active first)", list(labels), format_func=labels.__getitem__, key="reco_user"
    )


def profile(user_id: int) -> None:
    found = queries.user_profile(user_id)
    if found.empty:
        return
    user = found.iloc[0]
    segment = str(user["rfm_segment"]).replace("_", " ")
    st.caption(
        f"{formatting.text(user['full_name'])} · {formatting.text(user['country_code'])} · "
        f"via {formatting.text(user['acquisition_channel']).replace('_', ' ')} · "
        f"{segment} · {plural(user['orders'], 'order')} · {formatting.currency(user['lifetime_revenue'])} lifetime"
    )


def history(user_id: int) -> pd.DataFrame:
    st.subheader("Recent history")
    frame = queries.user_history(user_id)
    if frame.empty:
        ui.empty("No product activity for this user in the warehouse yet.")
        return frame
    ui.table(
        frame[["product_id", "product_name", "category", "views", "add_to_carts", "purchases", "last_interaction_at"]],
        column_config={
            "product_id": st.column_config.NumberColumn("Product", format="%d"),
            "product_name": "Name",
            "category": "Category",
            "views": ui.count_column("Views"),
            "add_to_carts": ui.count_column("Carts"),
            "purchases": ui.count_column("Bought"),
            "last_interaction_at": st.column_config.DatetimeColumn("Last seen", format="YYYY-MM-DD HH:mm"),
        },
    )
    return frame


def api_needed() -> None:
    st.caption("Needs the recommender API, which is not reachable (see above).")


def current_recommendations(user_id: int) -> ApiUnavailable | None:
    """Draws the API's recommendations; returns the API's error so later sections skip calling it."""
    st.subheader("Recommended now")
    try:
        answer = api_client.recommendations(user_id, RECOMMENDATIONS_K)
    except ApiUnavailable as exc:
        api_unavailable(exc)
        return exc
    st.caption(f"Strategy {answer.strategy or formatting.MISSING} · variant {answer.variant or 'none'}")
    if not answer.items:
        ui.empty("The API has no recommendation for this user.")
    else:
        items_table(answer.items)
    return None


def similar(history_frame: pd.DataFrame, api_down: ApiUnavailable | None) -> None:
    st.subheader("Similar products")
    if api_down is not None:
        api_needed()
        return
    if history_frame.empty:
        ui.empty("Similar products are shown for products in the user's history.")
        return
    names = dict(zip(history_frame["product_id"].astype(int), history_frame["product_name"], strict=True))
    product_id = st.selectbox("Similar to", list(names), format_func=names.__getitem__, key="reco_similar_to")
    try:
        items = api_client.similar_products(product_id, RECOMMENDATIONS_K)
    except ApiUnavailable as exc:
        api_unavailable(exc)
        return
    if not items:
        ui.empty("The API knows no similar product for this one.")
        return
    items_table(items)


OFFLINE_METRICS = {"precision": "Precision", "recall": "Recall", "ndcg": "NDCG", "map": "MAP", "coverage": "Coverage",
                   "truth_ndcg": "NDCG vs truth", "users": "Users"}


def offline_metrics(metrics: dict[str, Any]) -> pd.DataFrame | None:
    """The card's validation and test metrics (`shop train` evaluates first) as one row per window."""
    rows = {window: metrics[window] for window in ("validation", "test") if isinstance(metrics.get(window), dict)}
    if not rows:
        return None
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame = frame[[column for column in OFFLINE_METRICS if column in frame.columns]]
    return frame.rename(columns=OFFLINE_METRICS).rename_axis("window").reset_index()


def model_card(api_down: ApiUnavailable | None) -> None:
    st.subheader("Model card and offline metrics")
    if api_down is not None:
        api_needed()
        return
    try:
        served = api_client.served_model()
    except ApiUnavailable as exc:
        api_unavailable(exc)
        return
    card = served.card
    if card is None:
        ui.empty("The API serves no trained model yet (its lists are the popular products): run `shop train`, "
                 "and the API picks the model up without a restart.")
    else:
        data = card.get("data") or {}
        facts = {
            "Algorithm": card.get("algorithm"),
            "Trained at": card.get("trained_at"),
            "Data watermark": data.get("watermark"),
            "Users × products": f"{formatting.count(data.get('users'))} × {formatting.count(data.get('items'))}",
        }
        columns = st.columns(len(facts))
        for column, (label, value) in zip(columns, facts.items(), strict=True):
            column.metric(label, str(value if value is not None else "-"), border=True)
        st.caption(f"Model `{served.model_id}`.")
        metrics = card.get("metrics") or {}
        offline = offline_metrics(metrics)
        if offline is None:
            st.caption("Trained without an offline evaluation (`shop train --no-evaluate`): no offline metrics.")
        else:
            k = metrics.get("k")
            st.markdown(f"**Offline metrics{f' @{k}' if k else ''}**")
            ui.table(offline)
            windows = metrics.get("windows") or {}
            if windows:
                st.caption(", ".join(f"{name.replace('_', ' ')}: {value}" for name, value in windows.items()))
            reason = (metrics.get("choice") or {}).get("reason")
            if reason:
                st.caption(f"Why this model: {reason}.")
            for warning in metrics.get("warnings") or []:
                st.caption(f"Caution: {warning}.")
    if served.variants:
        st.markdown("**Variants served**")
        ui.table(pd.DataFrame(served.variants, columns=VARIANT_MODEL_COLUMNS))
    with st.expander("Full model card (JSON)"):
        st.json({"model_id": served.model_id, "card": card, "variants": served.variants})


def _interval(estimate, fmt) -> str:
    if estimate is None:
        return formatting.MISSING
    return f"{fmt(estimate.value)} ({fmt(estimate.low)} to {fmt(estimate.high)})"


def _too_few(estimate) -> str:
    shown = formatting.MISSING if estimate is None else formatting.currency(estimate.value)
    return f"{shown} (under {ab_statistics.MIN_PURCHASES} purchases: no interval)"


def _lift(found: ab_statistics.Lift | None, is_control: bool) -> str:
    if is_control:
        return "control"
    if found is None:
        return formatting.MISSING
    signed = formatting.signed_percent
    verdict = "significant" if found.significant else "not significant"
    return f"{signed(found.value)} ({signed(found.low)} to {signed(found.high)}), {verdict}"


def configured_split(api_down: ApiUnavailable | None) -> dict[str, float] | None:
    """The variants' weights as the API is configured now, in its order (the first is the control);
    None when the API cannot say."""
    if api_down is not None:
        return None
    try:
        served = api_client.served_model()
    except ApiUnavailable:
        return None
    return {str(v["variant"]): float(v.get("weight") or 0) for v in served.variants if v.get("variant")} or None


def ab_statistics_section(variants: pd.DataFrame, period: Period, api_down: ApiUnavailable | None) -> None:
    """Click-through and revenue per list with 95% intervals, lifts over the control, and the
    sample-ratio check of the assignment (app/ab_statistics.py)."""
    st.markdown("**A/B statistics** (95% intervals; a user's lists over the period are one unit, as the API "
                "assigns users to variants; click-through is the share of lists clicked)")
    if variants["days_without_clicked_lists"].sum() > 0 or variants["users"].isna().any():
        ui.empty("Some days of this period were built before the A/B units existed: run "
                 "`shop build --full-refresh` once to compute them.")
        return
    rows = {str(row["variant"]): row for _, row in variants.iterrows()}
    split = configured_split(api_down)
    names = list(rows)
    configured = [name for name in (split or {}) if name in rows]
    control_default = configured[0] if configured else next(
        (name for name in names if name in ("control", "popular")), names[0])
    control = st.selectbox("Control", names, index=names.index(control_default), key="ab_control")
    results = ab_statistics.compare(rows, control)
    # A static table: a handful of rows, and the intervals stay readable text (no canvas grid).
    st.table(pd.DataFrame([{
        "Variant": result.variant,
        "New users": formatting.count(rows[result.variant]["new_users"]),
        "Click-through (95% CI)": _interval(result.click_through, formatting.percent),
        "Click-through lift": _lift(result.click_lift, result.variant == control),
        "Revenue per list (95% CI)": _interval(result.revenue_per_list, formatting.currency)
        if result.enough_purchases else _too_few(result.revenue_per_list),
        "Revenue per list lift": _lift(result.revenue_lift, result.variant == control),
    } for result in results]).set_index("Variant"))
    sample_ratio_check(queries.variant_entries(period), split, names)


def sample_ratio_check(entries: pd.DataFrame, split: dict[str, float] | None, names: list[str]) -> None:
    """The users who entered the experiment per arm against the split each entered under (recorded
    with their first list; the API's configured split, or an equal one when it is down, for lists
    served before the API recorded it)."""
    fallback = split or {name: 1.0 for name in names}
    recorded = entries["weights"].notna()
    check = ab_statistics.sample_ratio_of_entries(
        (ab_statistics.Entries(str(row.variant), json.loads(row.weights) if isinstance(row.weights, str) else None,
                               float(row.users)) for row in entries.itertuples()),
        fallback)
    if check is None:
        st.caption("Sample-ratio check: needs users entering at least two weighted variants.")
        return
    fallback_text = ("the API's configured split " if split else
                     "an equal split (the API is not reachable to say its weights) ") + ":".join(
        f"{fallback[name]:g}" for name in fallback)
    if recorded.all():
        basis = "the split recorded with each user's first list"
    elif recorded.any():
        basis = (f"the split recorded with each user's first list ({fallback_text} for "
                 f"{formatting.count(entries.loc[~recorded, 'users'].sum())} users whose lists predate the record)")
    else:
        basis = fallback_text
    observed = ", ".join(f"{name} {formatting.count(count)} (expected {formatting.count(round(check.expected[name]))})"
                         for name, count in check.observed.items())
    text = f"Sample-ratio check: users entering the experiment {observed}, against {basis}: chi-square p = {check.p_value:.3g}"
    if check.mismatch:
        st.warning(f"{text} < {ab_statistics.SRM_ALPHA:g}: **sample ratio mismatch**. The assignment or the "
                   "impression log is broken; do not trust the lifts above.", icon=":material/warning:")
    else:
        st.success(f"{text}: no sample ratio mismatch.", icon=":material/check_circle:")
    splits = entries.loc[recorded, "weights"].nunique()
    if splits > 1:
        # A changed split moves some users to another arm: the check keeps each in the arm they
        # entered, while the rates above count their later lists where they were served.
        st.caption(f"The split changed during the period ({splits} splits recorded). This check counts each "
                   "user in the arm they entered under; a user whom a later split moved to another arm adds "
                   "their later lists to that arm's click-through and revenue, as usual for a ramp.")


def impact(choice: filters.Filters, api_down: ApiUnavailable | None = None) -> None:
    st.subheader("Recommendation impact")
    share = queries.recommended_order_share(choice.period).iloc[0]
    cards = st.columns(3)
    orders_share = share["recommended_orders"] / share["orders"] if share["orders"] else None
    revenue_share = share["recommended_revenue"] / share["revenue"] if share["revenue"] else None
    cards[0].metric("Orders with a recommended item", formatting.count(share["recommended_orders"]), border=True)
    cards[1].metric("Share of orders", formatting.percent(orders_share), border=True)
    cards[2].metric("Share of revenue", formatting.percent(revenue_share), border=True)
    if not queries.relation_exists(queries.VARIANT_MART):
        st.caption(
            "Per-variant click-through appears here once the API serves variants and the warehouse "
            f"holds marts.{queries.VARIANT_MART}."
        )
        return
    variants = queries.variant_performance(choice.period)
    if variants.empty:
        ui.empty(
            f"No recommender variant was live in {choice.period.label()}: per-variant click-through "
            f"appears once the API serves variants and `shop build` loads them into marts.{queries.VARIANT_MART}."
        )
        return
    st.markdown("**Per variant**")
    variants = variants.assign(
        # a share of lists (at most 1): several clicks on one list, or on repeats of it, click it once;
        # unknown while days built before clicked_lists existed are in the period
        click_through=(variants["clicked_lists"] / variants["impressions"].where(variants["impressions"] > 0))
        .where(variants["days_without_clicked_lists"] == 0),
        purchase_rate=variants["purchases"] / variants["clicks"].where(variants["clicks"] > 0),
    )
    ui.table(
        ui.as_percent(variants, ["click_through", "purchase_rate"])[VARIANT_COLUMNS],
        column_config={
            "variant": "Variant",
            "impressions": ui.count_column("Lists served"),
            "clicked_lists": ui.count_column("Lists clicked"),
            "click_through": ui.percent_column("Click-through"),
            "clicks": ui.count_column("Clicks"),
            "add_to_carts": ui.count_column("Carts"),
            "purchases": ui.count_column("Purchases"),
            "purchase_rate": ui.percent_column("Purchases / click"),
            "revenue": ui.money_column("Revenue"),
        },
    )
    ab_statistics_section(variants, choice.period, api_down)


st.title("Recommendations")
with ui.guarded():
    choice = filters.sidebar(span=queries.activity_span())
    user_id = pick_user()
    if user_id is None:
        ui.stop_with(ui.EMPTY_WAREHOUSE)
    profile(user_id)
    left, right = st.columns(2)
    with left:
        seen = history(user_id)
    with right:
        api_down = current_recommendations(user_id)
    similar(seen, api_down)
    model_card(api_down)
    impact(choice, api_down)
