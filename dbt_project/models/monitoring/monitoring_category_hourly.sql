{#
    Events per hour (UTC) and product category, for the volume check of one category's tracking
    (a category's events can stop while the shop's total hardly moves). Incremental like
    monitoring_events_hourly: the days touched by newly loaded events are rebuilt whole. An event
    counts in its product's current category: a product moved to another category moves only the
    hours rebuilt after the move (a full refresh moves them all).
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
        row_key=['event_hour', 'category'],
        indexes=[{'columns': ['event_date']}, {'columns': ['event_hour', 'category'], 'unique': true}],
    )
}}

with

interactions as (

    select * from {{ ref('int_interactions_enriched') }}
    {% if is_incremental() %}
    where occurred_date in ({{ touched_event_days() }})
    {% endif %}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

hourly as (

    select
        interactions.occurred_date as event_date,
        {{ dbt.date_trunc('hour', 'interactions.occurred_at') }} as event_hour,
        coalesce(products.category, 'unknown') as category,
        count(*) as events,
        count(distinct interactions.user_id) as distinct_users,
        max(interactions.last_loaded_at) as max_loaded_at

    from interactions
    left join products
        on interactions.product_id = products.product_id
    group by
        interactions.occurred_date,
        {{ dbt.date_trunc('hour', 'interactions.occurred_at') }},
        coalesce(products.category, 'unknown')

)

select
    event_date,
    event_hour,
    cast(category as {{ dbt.type_string() }}) as category,
    cast(events as {{ dbt.type_bigint() }}) as events,
    cast(distinct_users as {{ dbt.type_bigint() }}) as distinct_users,
    max_loaded_at

from hourly
