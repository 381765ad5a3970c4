{#
    One row per user and calendar month with any session: sessions, orders and revenue of that
    month. The building block of customers and signup_cohorts, small next to the events.
    Incremental: every month of a user with a newly loaded session or order is recomputed, and the
    user's stored months that the rebuild no longer yields are deleted (a late event can move a
    session's start, and with it the session, into the month before).
#}
{{
    config(
        materialized='incremental',
        on_schema_change='append_new_columns',
    )
}}
{{
    incremental_config(
        'user_id',
        row_key=['user_id', 'activity_month'],
        indexes=[
            {'columns': ['user_id', 'activity_month'], 'unique': True},
            {'columns': ['max_loaded_at']},
        ],
    )
}}

with

{% if incremental_by_key() %}
touched_users as (

    select user_id from {{ ref('int_interactions_aggregated_to_sessions') }}
    where max_loaded_at > {{ incremental_watermark() }}

    union

    select user_id from {{ ref('int_purchases_aggregated_to_orders') }}
    where max_loaded_at > {{ incremental_watermark() }}

),
{% endif %}

sessions as (

    select
        user_id,
        cast({{ dbt.date_trunc('month', 'started_at') }} as date) as activity_month,
        started_at,
        ended_at,
        max_loaded_at

    from {{ ref('int_interactions_aggregated_to_sessions') }}
    {% if incremental_by_key() %}
    where user_id in (select touched_users.user_id from touched_users)
    {% endif %}

),

orders as (

    select
        user_id,
        cast({{ dbt.date_trunc('month', 'ordered_at') }} as date) as activity_month,
        ordered_at,
        order_date,
        units,
        revenue,
        max_loaded_at

    from {{ ref('int_purchases_aggregated_to_orders') }}
    {% if incremental_by_key() %}
    where user_id in (select touched_users.user_id from touched_users)
    {% endif %}

),

session_months as (

    select
        user_id,
        activity_month,
        count(*) as sessions,
        min(started_at) as first_seen_at,
        max(ended_at) as last_seen_at,
        max(max_loaded_at) as max_loaded_at

    from sessions
    group by user_id, activity_month

),

order_months as (

    select
        user_id,
        activity_month,
        count(*) as orders,
        sum(units) as units,
        sum(revenue) as revenue,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        max(order_date) as last_order_date,
        max(max_loaded_at) as max_loaded_at

    from orders
    group by user_id, activity_month

),

final as (

    select
        coalesce(session_months.user_id, order_months.user_id) as user_id,
        coalesce(session_months.activity_month, order_months.activity_month) as activity_month,
        coalesce(session_months.sessions, 0) as sessions,
        session_months.first_seen_at,
        session_months.last_seen_at,
        coalesce(order_months.orders, 0) as orders,
        coalesce(order_months.units, 0) as units,
        -- no order: no revenue; orders whose prices the shop never told (an import): unknown, not zero
        {{ to_money('case when order_months.orders is null then 0 else order_months.revenue end') }} as revenue,
        order_months.first_order_at,
        order_months.last_order_at,
        order_months.last_order_date,
        case
            when order_months.max_loaded_at is null then session_months.max_loaded_at
            when session_months.max_loaded_at is null then order_months.max_loaded_at
            when order_months.max_loaded_at > session_months.max_loaded_at then order_months.max_loaded_at
            else session_months.max_loaded_at
        end as max_loaded_at

    from session_months
    full outer join order_months
        on
            session_months.user_id = order_months.user_id
            and session_months.activity_month = order_months.activity_month

)

select * from final
