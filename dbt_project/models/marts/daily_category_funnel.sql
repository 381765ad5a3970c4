{#
    The view -> add to cart -> purchase funnel per day and product category (the product's current
    category), from product_daily_performance. Incremental (keyed by activity_date): the
    days whose product rows were rebuilt after this table's watermark are rebuilt whole; and every
    day when the catalogue's categories have changed since the rows were built (each row keeps the
    fingerprint of the catalogue it was built with), since a product moving category moves its
    whole history.
#}
{{
    config(
        materialized='incremental',
        on_schema_change='append_new_columns',
    )
}}
{{
    incremental_config(
        'activity_date',
        day_key='activity_date',
        row_key=['activity_date', 'category'],
        indexes=[
            {'columns': ['activity_date', 'category'], 'unique': True},
            {'columns': ['max_loaded_at']},
        ],
    )
}}

with

catalogue as (

    {{ category_fingerprint_query() }}

),

product_days as (

    select * from {{ ref('product_daily_performance') }}
    {% if is_incremental() %}
    {% if not inline_queries() %}
    where
        activity_date in ({{ touched_days(ref('product_daily_performance'), 'max_loaded_at', 'activity_date') }})
        or coalesce((select max(built.category_fingerprint) from {{ this }} as built), '')
        <> (select catalogue.fingerprint from catalogue)
    {% elif not catalogue_changed_since_build() %}
    where activity_date in ({{ touched_days(ref('product_daily_performance'), 'max_loaded_at', 'activity_date') }})
    {% endif %}
    {% endif %}

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
        count(distinct product_days.product_id) as active_products,
        max(product_days.max_loaded_at) as max_loaded_at

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
        {{ safe_ratio('purchases', 'views') }} as view_to_purchase_rate,
        max_loaded_at,
        (select catalogue.fingerprint from catalogue) as category_fingerprint

    from funnel

)

select * from final
