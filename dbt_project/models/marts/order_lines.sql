{#
    One row per order and product: the units and revenue of the product in the order, with the
    product's current category, so the dashboard can filter orders, customers and order value by
    category. Incremental (keyed by order_id): an order with a newly loaded line is rebuilt
    from all its lines, and so is every order holding a product whose category has changed since
    (the current category is compared with the stored one, so no change is missed). That
    comparison runs first, on its own: left in the query, its unknowable row count (the planner
    guessed every order) turned the look-up of the new orders' events into a scan of all events.
    The touched orders' events are looked up as a list (in_keys): with `in (subquery)` the plan
    followed the sampled distinct count of enriched's order_id, a column nearly all null whose
    estimate varies from one analyze to the next, and below about half the true count the planner
    read every order's events instead of the touched ones'.
#}
{{
    config(
        materialized='incremental',
        on_schema_change='append_new_columns',
    )
}}
{{
    incremental_config(
        'order_id',
        row_key=['order_id', 'product_id'],
        indexes=[
            {'columns': ['order_id', 'product_id'], 'unique': True},
            {'columns': ['order_date', 'category']},
            {'columns': ['user_id']},
            {'columns': ['max_loaded_at']},
        ],
    )
}}
-- depends_on: {{ ref('int_purchases_aggregated_to_orders') }}

with

products as (

    select * from {{ ref('stg_shop__products') }}

),

{% if incremental_by_key() %}
touched_orders as (

    select touched.order_id
    from {{ ref('int_purchases_aggregated_to_orders') }} as touched
    where touched.max_loaded_at > {{ incremental_watermark() }}

    {% if not inline_queries() or stored_categories_changed() %}
    union

    select built_rows.order_id
    from {{ this }} as built_rows
    left join products
        on built_rows.product_id = products.product_id
    where coalesce(built_rows.category, '') <> coalesce(products.category, '')
    {% endif %}

),
{% endif %}

purchases as (

    select * from {{ ref('int_interactions_enriched') }}
    where
        event_type = 'purchase'
        {% if incremental_by_key() %}
        and {% call in_keys('order_id') -%}
            select touched_orders.order_id from touched_orders  -- noqa: LT02
        {% endcall %}
    {% endif %}

),

-- the order's buyer and day over all its lines in the same pass: lines and orders grouped apart and
-- joined were planned as a nested loop whenever the touched purchases were underestimated
lines as (

    select
        order_id,
        product_id,
        sum(quantity) as quantity,
        sum(revenue) as revenue,
        max(last_loaded_at) as max_loaded_at,
        min(min(user_id)) over (partition by order_id) as user_id,
        min(min(occurred_date)) over (partition by order_id) as order_date

    from purchases
    group by order_id, product_id

),

final as (

    select
        lines.order_id,
        lines.user_id,
        lines.product_id,
        products.category,
        lines.order_date,
        cast(lines.quantity as {{ dbt.type_bigint() }}) as quantity,
        {{ to_money('lines.revenue') }} as revenue,
        lines.max_loaded_at

    from lines
    left join products
        on lines.product_id = products.product_id

)

select * from final
