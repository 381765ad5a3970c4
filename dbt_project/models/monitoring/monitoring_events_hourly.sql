{#
    Events per hour and event type, with what the anomaly checks (`alerts`) compare: deliveries
    (duplicates), late arrivals, distinct users and the heaviest user's events (bots). Small (one
    row per hour and type), so the checks read weeks of it in milliseconds. Incremental like
    sales_summary: the days touched by newly loaded events are rebuilt whole (keyed by event_date;
    an hour or type a rebuild no longer yields is deleted), but for a day only the watermark's
    overlap touched whose stored rows already count each of the day's events (unsettled_event_days()).
    A warehouse built before a column was added gets it (append_new_columns) and every day rebuilt
    once (stored_without).
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
        'event_date',
        day_key='event_date',
        row_key=['event_hour', 'event_type'],
        indexes=[{'columns': ['event_date']}, {'columns': ['event_hour', 'event_type'], 'unique': true}],
    )
}}
{%- do bitmap_scans_while_compiling() %}

with

interactions as (

    select * from {{ ref('int_interactions_enriched') }}
    {% if is_incremental() and not stored_without(['top_user_events']) %}
    where occurred_date in ({{ unsettled_event_days() }})
    {% endif %}

),

-- per user first: the hour's heaviest user (a bot is one user with thousands of views) comes out of
-- the same pass that counts the distinct users
per_user as (

    select
        occurred_date as event_date,
        {{ dbt.date_trunc('hour', 'occurred_at') }} as event_hour,
        event_type,
        user_id,
        count(*) as events,
        sum(delivery_count) as deliveries,
        sum({{ flag(dbt.dateadd('hour', var('late_after_hours'), 'occurred_at') ~ ' < first_loaded_at') }})
            as late_events,
        max(last_loaded_at) as max_loaded_at

    from interactions
    group by occurred_date, {{ dbt.date_trunc('hour', 'occurred_at') }}, event_type, user_id

),

hourly as (

    select
        event_date,
        event_hour,
        event_type,
        sum(events) as events,
        sum(deliveries) as deliveries,
        sum(late_events) as late_events,
        count(user_id) as distinct_users,
        max(case when user_id is not null then events end) as top_user_events,
        max(max_loaded_at) as max_loaded_at

    from per_user
    group by event_date, event_hour, event_type

)

select
    event_date,
    event_hour,
    cast(event_type as {{ dbt.type_string() }}) as event_type,
    cast(events as {{ dbt.type_bigint() }}) as events,
    cast(deliveries as {{ dbt.type_bigint() }}) as deliveries,
    cast(late_events as {{ dbt.type_bigint() }}) as late_events,
    cast(distinct_users as {{ dbt.type_bigint() }}) as distinct_users,
    cast(top_user_events as {{ dbt.type_bigint() }}) as top_user_events,
    max_loaded_at

from hourly
