{#
    Events per hour (UTC) and product category, for the volume check of one category's tracking
    (a category's events can stop while the shop's total hardly moves). An event counts in its
    product's current category. Incremental like daily_category_funnel: the days touched by newly
    loaded events are rebuilt whole, and every day when the catalogue's categories have changed
    since the rows were built (each row keeps the fingerprint of the catalogue it was built with).
    A day only the watermark's overlap touched is left as stored when its rows already count each
    of the day's events (unsettled_event_days()).
#}
{{
    config(
        materialized='incremental',
        pre_hook="{{ bitmap_scans_only() }}",
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
{%- do bitmap_scans_while_compiling() %}

with

catalogue as (

    {{ category_fingerprint_query() }}

),

interactions as (

    select * from {{ ref('int_interactions_enriched') }}
    {% if is_incremental() %}
    {% if not inline_queries() %}
    where
        occurred_date in ({{ touched_event_days() }})
        or coalesce((select max(built.category_fingerprint) from {{ this }} as built), '')
        <> (select catalogue.fingerprint from catalogue)
    {% elif not catalogue_changed_since_build() %}
    where occurred_date in ({{ unsettled_event_days() }})
    {% endif %}
    {% endif %}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

-- per user first, then per hour: counting the distinct users of an hour and category directly sorts
-- every event by text, where two hash aggregates only hash them
per_user as (

    select
        interactions.occurred_date as event_date,
        {{ dbt.date_trunc('hour', 'interactions.occurred_at') }} as event_hour,
        coalesce(products.category, 'unknown') as category,
        interactions.user_id,
        count(*) as events,
        max(interactions.last_loaded_at) as max_loaded_at

    from interactions
    left join products
        on interactions.product_id = products.product_id
    group by
        interactions.occurred_date,
        {{ dbt.date_trunc('hour', 'interactions.occurred_at') }},
        coalesce(products.category, 'unknown'),
        interactions.user_id

),

hourly as (

    select
        event_date,
        event_hour,
        category,
        sum(events) as events,
        count(user_id) as distinct_users,
        max(max_loaded_at) as max_loaded_at

    from per_user
    group by event_date, event_hour, category

)

select
    event_date,
    event_hour,
    cast(category as {{ dbt.type_string() }}) as category,
    cast(events as {{ dbt.type_bigint() }}) as events,
    cast(distinct_users as {{ dbt.type_bigint() }}) as distinct_users,
    max_loaded_at,
    (select catalogue.fingerprint from catalogue) as category_fingerprint

from hourly
