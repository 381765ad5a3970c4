{#
    The view -> add to cart -> purchase funnel per day and product category (the product's current
    category). A table over product_daily_performance, which is small next to the events.
#}
with

product_days as (

    select * from {{ ref('product_daily_performance') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

funnel as (

    select
        product_days.activity_date,
        products.category,
        sum(product_days.views) as views,
        sum(product_days.add_to_carts) as add_to_carts,
        sum(product_days.purchases) as purchases,
        sum(product_days.units_sold) as units_sold,
        {{ to_money('sum(product_days.revenue)') }} as revenue,
        count(distinct product_days.product_id) as active_products

    from product_days
    inner join products
        on product_days.product_id = products.product_id
    group by product_days.activity_date, products.category

),

final as (

    select
        activity_date,
        category,
        views,
        add_to_carts,
        purchases,
        units_sold,
        revenue,
        active_products,
        {{ safe_ratio('add_to_carts', 'views') }} as view_to_cart_rate,
        {{ safe_ratio('purchases', 'add_to_carts') }} as cart_to_purchase_rate,
        {{ safe_ratio('purchases', 'views') }} as view_to_purchase_rate

    from funnel

)

select * from final
