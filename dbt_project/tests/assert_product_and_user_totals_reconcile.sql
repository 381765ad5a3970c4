{#
    The lifetime totals agree across the marts: products (from product_daily_performance),
    user_item_interactions and customers count the same views, carts, purchases, units and revenue
    as sales_summary. Whole-table sums over small marts only, so it always runs on every row.
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

),

by_customer as (

    select
        sum(units) as units,
        sum(lifetime_revenue) as revenue

    from {{ ref('customers') }}

)

select
    daily.revenue as summary_revenue,
    by_product.revenue as product_revenue,
    by_customer.revenue as customer_revenue

from daily
cross join by_product
cross join by_pair
cross join by_customer
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
    or daily.units <> by_customer.units
    or daily.revenue <> by_customer.revenue
