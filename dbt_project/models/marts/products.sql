with

products as (

    select * from {{ ref('stg_shop__products') }}

),

product_days as (

    select * from {{ ref('product_daily_performance') }}

),

lifetime as (

    select
        product_id,
        sum(views) as views,
        sum(add_to_carts) as add_to_carts,
        sum(purchases) as purchases,
        sum(units_sold) as units_sold,
        sum(orders) as orders,
        sum(revenue) as revenue,
        min(activity_date) as first_activity_date,
        max(activity_date) as last_activity_date

    from product_days
    group by product_id

),

final as (

    select
        products.product_id,
        products.sku,
        products.product_name,
        products.category,
        products.brand,
        products.list_price,
        products.active,
        coalesce(lifetime.views, 0) as views,
        coalesce(lifetime.add_to_carts, 0) as add_to_carts,
        coalesce(lifetime.purchases, 0) as purchases,
        coalesce(lifetime.units_sold, 0) as units_sold,
        coalesce(lifetime.orders, 0) as orders,
        {{ to_money('coalesce(lifetime.revenue, 0)') }} as revenue,
        {{ safe_ratio('lifetime.add_to_carts', 'lifetime.views') }} as view_to_cart_rate,
        {{ safe_ratio('lifetime.purchases', 'lifetime.add_to_carts') }} as cart_to_purchase_rate,
        {{ safe_ratio('lifetime.purchases', 'lifetime.views') }} as conversion_rate,
        lifetime.first_activity_date,
        lifetime.last_activity_date

    from products
    left join lifetime
        on products.product_id = lifetime.product_id

)

select * from final
