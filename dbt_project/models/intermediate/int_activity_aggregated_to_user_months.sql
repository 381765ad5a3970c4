{#
    One row per user and calendar month with any session: sessions, orders and revenue of that
    month. The building block of customers and signup_cohorts, small next to the events.
    Incremental: a user with a newly loaded session or order gets their months rebuilt from the
    earliest month of such a session or order on (touched_user_months). A session's start and an
    order's time only move earlier as events arrive, so a touched session or order was, and is, in
    a month from then on: the earlier months keep their sessions and orders and stay as stored.
    The pre-hook deletes the user's stored months from then on (remove_rebuilt_user_months), so a
    month the rebuild no longer yields is gone (a late event can move a session's start, and with
    it the session, into the month before), and the merge inserts the rebuilt ones. Keyed by
    (user, month), so the earlier months need not be read and carried through the merge: they were
    most of the rebuilt rows on an appended day. The sessions and orders of the rebuilt months are
    read through their (user_id, time) indexes: on an appended day, mostly the current month's.
#}
{{
    config(
        materialized='incremental',
        on_schema_change='append_new_columns',
        pre_hook="{{ remove_rebuilt_user_months() }}",
    )
}}
{{
    incremental_config(
        ['user_id', 'activity_month'],
        indexes=[
            {'columns': ['user_id', 'activity_month'], 'unique': True},
            {'columns': ['max_loaded_at']},
        ],
    )
}}

with

{% if incremental_by_key() %}
touched_users as (

    {{ touched_user_months() }}

),
{% endif %}

sessions as (

    select
        sessions.user_id,
        cast({{ dbt.date_trunc('month', 'sessions.started_at') }} as date) as activity_month,
        sessions.started_at,
        sessions.ended_at,
        sessions.max_loaded_at

    from {{ ref('int_interactions_aggregated_to_sessions') }} as sessions
    {% if incremental_by_key() %}
    inner join touched_users
        on
            sessions.user_id = touched_users.user_id
            and sessions.started_at >= touched_users.rebuild_from
    {% endif %}

),

orders as (

    select
        orders.user_id,
        cast({{ dbt.date_trunc('month', 'orders.ordered_at') }} as date) as activity_month,
        orders.ordered_at,
        orders.order_date,
        orders.units,
        orders.revenue,
        orders.max_loaded_at

    from {{ ref('int_purchases_aggregated_to_orders') }} as orders
    {% if incremental_by_key() %}
    inner join touched_users
        on
            orders.user_id = touched_users.user_id
            and orders.ordered_at >= touched_users.rebuild_from
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
