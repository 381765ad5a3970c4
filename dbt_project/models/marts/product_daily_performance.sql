{#
    One row per product and day with any activity. Incremental: every product row of the days
    touched by newly loaded events is rebuilt (keyed by activity_date, product_id).
    `price` is the day's price as the events saw it: the unit price most of the day's events of the
    product carried (a tie goes to the price seen last). Events carry the price of their moment on
    every kind of load (a simulated history, an import, the live stream), where raw.products and its
    snapshot know only the prices that were current when a build ran; marts.price_changes reads
    the series from here.
#}
{{
    config(
        materialized='incremental',
        on_schema_change='append_new_columns',
    )
}}
{{
    incremental_config(
        ['activity_date', 'product_id'],
        day_key='activity_date',
        indexes=[
            {'columns': ['activity_date', 'product_id'], 'unique': True},
            {'columns': ['product_id']},
            {'columns': ['max_loaded_at']},
        ],
    )
}}

with

interactions as (

    select * from {{ ref('int_interactions_enriched') }}
    {% if is_incremental() and not stored_without(['sessions', 'purchasing_sessions', 'price']) %}
    where occurred_date in ({{ touched_event_days() }})
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
        sum(is_recommended) as recommended_events,
        max(last_loaded_at) as max_loaded_at

    from interactions
    group by occurred_date, product_id

),

prices_seen as (

    select
        occurred_date,
        product_id,
        unit_price,
        count(*) as events,
        max(occurred_at) as last_seen_at

    from interactions
    where unit_price is not null
    group by occurred_date, product_id, unit_price

),

day_prices as (

    select
        occurred_date,
        product_id,
        unit_price,
        row_number() over (
            partition by occurred_date, product_id
            order by events desc, last_seen_at desc, unit_price desc
        ) as price_rank

    from prices_seen

),

final as (

    select
        daily.activity_date,
        daily.product_id,
        daily.views,
        daily.add_to_carts,
        daily.purchases,
        daily.units_sold,
        daily.orders,
        daily.revenue,
        daily.unique_users,
        daily.recommended_events,
        {{ safe_ratio('daily.add_to_carts', 'daily.views') }} as view_to_cart_rate,
        {{ safe_ratio('daily.purchases', 'daily.views') }} as view_to_purchase_rate,
        daily.max_loaded_at,
        -- after the watermark: a table built before these columns existed gets them appended
        daily.sessions,
        daily.purchasing_sessions,
        {{ to_money('day_prices.unit_price') }} as price

    from daily
    left join day_prices
        on
            daily.activity_date = day_prices.occurred_date
            and daily.product_id = day_prices.product_id
            and day_prices.price_rank = 1

)

select * from final
