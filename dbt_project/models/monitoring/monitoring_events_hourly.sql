{#
    Events per hour and event type, with what the anomaly checks (`alerts`) compare: deliveries
    (duplicates), late arrivals, distinct users (events per user: bots), and the events' prices
    against their products' list prices (the price check: a mean of ratios does not move with the
    mix of cheap and dear products that a few long visits bring). Small (one row per hour and
    type), so the checks read weeks of it in milliseconds. Incremental like sales_summary: the
    days touched by newly loaded events are rebuilt whole (keyed by event_date; an hour or type a
    rebuild no longer yields is deleted).
#}
{{
    config(
        materialized='incremental',
        on_schema_change='fail',
    )
}}
{{
    incremental_config(
        'event_date',
        day_key='event_date',
        row_key=['event_hour', 'event_type'],
        indexes=[{'columns': ['event_date']}, {'columns': ['event_hour', 'event_type'], 'unique': true}],
    )
}}

with

interactions as (

    select * from {{ ref('int_interactions_enriched') }}
    {% if is_incremental() %}
    where occurred_date in ({{ touched_event_days() }})
    {% endif %}

),

-- The list price when the hour is built: a full refresh compares past events with today's list
-- prices, an incremental run with those of its day (list prices move by tens of percent; the
-- check looks for multiples).
products as (

    select
        product_id,
        list_price
    from {{ ref('stg_shop__products') }}
    where list_price > 0

),

hourly as (

    select
        interactions.occurred_date as event_date,
        {{ dbt.date_trunc('hour', 'interactions.occurred_at') }} as event_hour,
        interactions.event_type,
        count(*) as events,
        sum(interactions.delivery_count) as deliveries,
        sum(
            {{ flag(dbt.dateadd('hour', var('late_after_hours'), 'interactions.occurred_at')
                    ~ ' < interactions.first_loaded_at') }}
        ) as late_events,
        count(distinct interactions.user_id) as distinct_users,
        count(interactions.unit_price * products.list_price) as priced_events,
        sum(interactions.unit_price / products.list_price) as price_ratio_sum,
        max(interactions.last_loaded_at) as max_loaded_at

    from interactions
    left join products
        on interactions.product_id = products.product_id
    group by
        interactions.occurred_date,
        {{ dbt.date_trunc('hour', 'interactions.occurred_at') }},
        interactions.event_type

)

select
    event_date,
    event_hour,
    cast(event_type as {{ dbt.type_string() }}) as event_type,
    cast(events as {{ dbt.type_bigint() }}) as events,
    cast(deliveries as {{ dbt.type_bigint() }}) as deliveries,
    cast(late_events as {{ dbt.type_bigint() }}) as late_events,
    cast(distinct_users as {{ dbt.type_bigint() }}) as distinct_users,
    cast(priced_events as {{ dbt.type_bigint() }}) as priced_events,
    cast(price_ratio_sum as double precision) as price_ratio_sum,
    max_loaded_at

from hourly
