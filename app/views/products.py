"""Products: top sellers by revenue and by units, the sales mix, and one product in detail (its price
history next to its daily units, and what each price change did)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import charts, filters, formatting, queries, ui

TOP_N = 10


def drill_down(sales: pd.DataFrame, choice: filters.Filters) -> None:
    st.subheader("Product drill-down")
    labels = {
        int(row.product_id): f"{row.product_name} · {row.category} · #{row.product_id}"
        for row in sales.itertuples()
    }
    product_id = st.selectbox(
        "Product (by revenue in the period)", list(labels), format_func=labels.__getitem__, key="product_pick"
    )
    profile = queries.product_profile(product_id)
    if profile.empty:
        ui.empty("This product is no longer in the catalogue.")
        return
    item = profile.iloc[0]
    in_period = sales.loc[sales["product_id"] == product_id].iloc[0]
    st.caption(f"{formatting.text(item['brand'])} · {item['category']} · SKU {formatting.text(item['sku'])} · "
               f"list price {formatting.currency(item['list_price'])}")
    cards = st.columns(4)
    cards[0].metric("Revenue in period", formatting.currency(in_period["revenue"]), border=True)
    cards[1].metric("Units in period", formatting.count(in_period["units_sold"]), border=True)
    cards[2].metric("Lifetime revenue", formatting.currency(item["revenue"]), border=True)
    cards[3].metric("Lifetime view → purchase", formatting.percent(item["conversion_rate"]), border=True)
    days = charts.fill_days(queries.product_days(product_id, choice.period), choice.period.dates(), "activity_date")
    ui.chart(charts.revenue_and_volume(days, "views", "Views", height=300), key="product_trend")
    price_history(product_id, choice)


def price_history(product_id: int, choice: filters.Filters) -> None:
    st.subheader("Price history")
    period = choice.period
    seen = queries.product_prices_and_units(product_id, period)
    prices = seen.dropna(subset=["price"])[["activity_date", "price"]]
    if prices.empty:
        ui.empty("No event of this product in the period carried a price.")
        return
    units = charts.fill_days(seen[["activity_date", "units_sold"]], period.dates(), "activity_date")
    list_prices = queries.product_list_prices(product_id, period)
    ui.chart(charts.price_history_and_units(units, prices, list_prices, period.start, period.end), key="price_history")
    st.caption(
        "Price in events: the price most of the day's events of the product carried (between days with events, "
        "the last one seen). List price: the catalogue's versions kept by the products snapshot, one per change "
        "that a build saw (a history loaded at once has only its current price)."
    )
    if not queries.relation_exists(queries.PRICE_CHANGES_MART):
        ui.empty(f"marts.{queries.PRICE_CHANGES_MART} is not built yet: run `shop build` to see each change's effect.")
        return
    changes = queries.product_price_changes(product_id, period)
    if changes.empty:
        ui.empty("The price did not change in the period.")
        return
    st.markdown("**Price changes and their effect** (14 days before the change against the 14 days from it)")
    ui.table(
        ui.as_percent(changes, ["relative_change", "conversion_before", "conversion_after"]),
        column_config={
            "changed_on": st.column_config.DateColumn("Changed on"),
            "previous_price": ui.money_column("From"),
            "new_price": ui.money_column("To"),
            "relative_change": ui.percent_column("Change"),
            "units_before": ui.count_column("Units before"),
            "units_after": ui.count_column("Units after"),
            "conversion_before": ui.percent_column("Conversion before"),
            "conversion_after": ui.percent_column("Conversion after"),
            "days_until_next_change": st.column_config.NumberColumn("Next change in (days)", format="%d"),
        },
    )
    st.caption(
        "Conversion: of the visits with any event on the product, the share that bought it. "
        "A next change within 14 days (a promotion's end, say) falls inside the after window."
    )


st.title("Products")
with ui.guarded():
    choice = filters.sidebar(queries.categories(), queries.activity_span())
    sales = queries.product_sales(choice.period, choice.category)
    if sales.empty:
        ui.stop_with(f"No product activity in {choice.period.label()} ({choice.describe()}). Pick another date range.")
    st.caption(f"Products with activity, {choice.describe()}.")

    by_revenue, by_units = st.columns(2)
    with by_revenue:
        st.subheader(f"Top {TOP_N} by revenue")
        ui.chart(charts.top_products(sales.nlargest(TOP_N, "revenue"), "revenue", "Revenue", money=True), key="top_revenue")
    with by_units:
        st.subheader(f"Top {TOP_N} by units")
        ui.chart(
            charts.top_products(sales.nlargest(TOP_N, "units_sold"), "units_sold", "Units", money=False), key="top_units"
        )

    mix_chart, mix_table = st.columns([3, 2])
    mix = queries.sales_mix(choice.period, choice.category)
    what = "category" if choice.category is None else f"brand within {choice.category}"
    with mix_chart:
        st.subheader("Sales mix")
        ui.chart(charts.mix(mix, f"Revenue by {what}"), key="sales_mix")
    with mix_table:
        total = mix["revenue"].sum()
        shares = mix.assign(share=mix["revenue"] / total if total else 0.0)
        ui.table(
            ui.as_percent(shares, ["share"]),
            column_config={
                "segment": "Category" if choice.category is None else "Brand",
                "revenue": ui.money_column("Revenue"),
                "units_sold": ui.count_column("Units"),
                "share": ui.percent_column("Share of revenue"),
            },
        )

    drill_down(sales, choice)
