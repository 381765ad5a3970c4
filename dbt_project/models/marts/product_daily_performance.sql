{#
    One row per product and day with any activity. Incremental, keyed by (activity_date, product_id):
    the (day, product) rows touched by newly loaded events are rebuilt from all their events.
    `price` is the day's price as the events saw it: the unit price most of the day's events of the
    product carried (the lower one of equally frequent prices). Events carry the price of their moment on
    every kind of load (a simulated history, an import, the live stream), where raw.products and its
    snapshot know only the prices that were current when a build ran; marts.price_changes reads
    the series from here.
#}
{{
    config(
        materialized='incremental',
        pre_hook="{{ bitmap_scans_only() }}",
        on_schema_change='append_new_columns',
    )
}}
{{
    incremental_config(
        ['activity_date', 'product_id'],
        day_key='activity_date',
        indexes=[
            {'columns': ['activity_date', 'product_id'], 'unique': True},
            {'columns': ['product_id', 'activity_date']},
            {'columns': ['max_loaded_at']},
        ],
    )
}}

with

interactions as (

    select * from {{ ref('int_interactions_enriched') }}
    {% if is_incremental() and not stored_without(['sessions', 'purchasing_sessions', 'price']) %}
    where
        occurred_date in ({{ touched_event_days() }})
        and {{ touched_event_keys(['occurred_date', 'product_id']) }}
    {% endif %}

),

daily as (

    select
        occurred_date as activity_date,
        product_id,
        sum(is_view) as views,
        sum(is_add_to_cart) as add_to_carts,
        sum(is_purchase) as purchases,
        sum(units_purchased) as units_sold,
        count(distinct order_id) as orders,
        {{ to_money('sum(revenue)') }} as revenue,
        count(distinct user_id) as unique_users,
        count(distinct session_id) as sessions,
        count(distinct case when is_purchase = 1 then session_id end) as purchasing_sessions,
        {{ most_common('unit_price') }} as price,
        sum(is_recommended) as recommended_events,
        max(last_loaded_at) as max_loaded_at

    from interactions
    group by occurred_date, product_id

),

final as (

    select
        activity_date,
        product_id,
        views,
        add_to_carts,
        purchases,
        units_sold,
        orders,
        revenue,
        unique_users,
        recommended_events,
        {{ safe_ratio('add_to_carts', 'views') }} as view_to_cart_rate,
        {{ safe_ratio('purchases', 'views') }} as view_to_purchase_rate,
        max_loaded_at,
        -- after the watermark: a table built before these columns existed gets them appended
        sessions,
        purchasing_sessions,
        {{ to_money('price') }} as price

    from daily

)

select * from final
