{#
    One row per session (visit), from its events. Rebuilt per session: a session any of whose
    events was newly loaded is recomputed from all its events.

    A touched session's events are the newly loaded ones plus, when the session is stored, the
    events its stored row was built from, which lie on the days from its `session_date` to its
    `ended_at` (an event's day is its occurred_at's UTC day, and an event's columns never change
    after its first load). Those days are read whole (bitmap scans of the day index) and filtered
    by the stored touched sessions: most touched sessions are new, and the stored ones lie on the
    last loaded day or on a late event's day. int_interactions_enriched then needs no index on the
    random session_id, whose inserts were much of its incremental write.
#}
{{
    config(
        materialized='incremental',
        on_schema_change='append_new_columns',
        pre_hook="{{ bitmap_scans_only() }}",
    )
}}
{{
    incremental_config(
        'session_id',
        indexes=[
            {'columns': ['session_id'], 'unique': True},
            {'columns': ['user_id', 'started_at']},
            {'columns': ['max_loaded_at']},
        ],
    )
}}

with

{% if incremental_by_key() %}
-- Events loaded after the watermark (new events and redeliveries), of sessions with an id.
new_events as (

    select * from {{ ref('int_interactions_enriched') }}
    where
        last_loaded_at > {{ incremental_watermark() }}
        and session_id is not null

),

-- The touched sessions already stored: each looked up in the table's unique index (`offset 0`
-- keeps the look-up a per-session subquery).
stored_sessions as (

    select stored_row.*
    from (select distinct new_events.session_id from new_events) as touched
    cross join lateral (
        select
            stored_session.session_id,
            stored_session.session_date,
            stored_session.ended_at
        from {{ this }} as stored_session
        where stored_session.session_id = touched.session_id
        offset 0  -- noqa: AM09
    ) as stored_row

),

interactions as (

    select * from new_events

    union all

    -- the stored sessions' other events, on the days their stored rows span
    select earlier.*
    from {{ ref('int_interactions_enriched') }} as earlier
    where
        earlier.session_id in (select stored_sessions.session_id from stored_sessions)
        and (earlier.last_loaded_at > {{ incremental_watermark() }}) is not true
        and {% call in_keys('earlier.occurred_date') -%}
            select distinct cast(stored_days.stored_day as date)
            from stored_sessions
            cross join lateral generate_series(
                stored_sessions.session_date, {{ utc_date('stored_sessions.ended_at') }}, interval '1 day'
            ) as stored_days (stored_day)  -- noqa: LT02
        {% endcall %}

),
{% else %}
interactions as (

    select * from {{ ref('int_interactions_enriched') }}

),
{% endif %}

sessions as (

    select
        session_id,
        min(user_id) as user_id,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        min(occurred_date) as session_date,
        count(*) as events,
        sum(is_view) as views,
        sum(is_add_to_cart) as add_to_carts,
        sum(is_purchase) as purchases,
        count(distinct product_id) as distinct_products,
        count(distinct order_id) as orders,
        {{ to_money('sum(revenue)') }} as revenue,
        sum(is_recommended) as recommended_events,
        max(last_loaded_at) as max_loaded_at

    from interactions
    group by session_id

),

final as (

    select
        *,
        {{ dbt.datediff('started_at', 'ended_at', 'second') }} as duration_seconds,
        {{ flag('orders > 0') }} as has_order

    from sessions

)

select * from final
