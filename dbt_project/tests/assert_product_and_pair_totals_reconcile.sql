{#
    The lifetime totals agree across the marts: products (from product_daily_performance) and
    user_item_interactions count the same views, carts, purchases, units and revenue as
    sales_summary. Whole-table sums, so it always runs on every row. customers has a test of its
    own (assert_customer_totals_reconcile): split, the scan of user_item_interactions runs while
    customers is still being built instead of after it, at the end of the build.
#}
with

daily as (

    select
        sum(views) as views,
        sum(add_to_carts) as add_to_carts,
        sum(purchases) as purchases,
        sum(units_sold) as units,
        sum(revenue) as revenue

    from {{ ref('sales_summary') }}

),

by_product as (

    select
        sum(views) as views,
        sum(add_to_carts) as add_to_carts,
        sum(purchases) as purchases,
        sum(units_sold) as units,
        sum(revenue) as revenue

    from {{ ref('products') }}

),

by_pair as (

    select
        sum(views) as views,
        sum(add_to_carts) as add_to_carts,
        sum(purchases) as purchases,
        sum(units_purchased) as units

    from {{ ref('user_item_interactions') }}

)

select
    daily.revenue as summary_revenue,
    by_product.revenue as product_revenue

from daily
cross join by_product
cross join by_pair
where
    daily.views <> by_product.views
    or daily.add_to_carts <> by_product.add_to_carts
    or daily.purchases <> by_product.purchases
    or daily.units <> by_product.units
    or daily.revenue <> by_product.revenue
    or daily.views <> by_pair.views
    or daily.add_to_carts <> by_pair.add_to_carts
    or daily.purchases <> by_pair.purchases
    or daily.units <> by_pair.units
