{#
    One row per user with any session or order: the lifetime totals of their months. The building
    block of customers, which would otherwise sum every user's months in every build.
    Incremental: a user with a newly rebuilt month is summed again from all their months (a user's
    months are only ever rebuilt together, and a rebuilt month carries the new load time).
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
        indexes=[
            {'columns': ['user_id'], 'unique': True},
            {'columns': ['max_loaded_at']},
        ],
    )
}}

with

user_months as (

    select * from {{ ref('int_activity_aggregated_to_user_months') }}
    {% if incremental_by_key() %}
    where
        {% call in_keys('user_id') -%}
            select touched.user_id
            from {{ ref('int_activity_aggregated_to_user_months') }} as touched
            where touched.max_loaded_at > {{ incremental_watermark() }}  -- noqa: LT02
        {% endcall %}
    {% endif %}

),

final as (

    select
        user_id,
        sum(sessions) as sessions,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        sum(orders) as orders,
        sum(units) as units,
        sum(revenue) as revenue,
        min(first_order_at) as first_order_at,
        max(last_order_at) as last_order_at,
        max(last_order_date) as last_order_date,
        max(max_loaded_at) as max_loaded_at

    from user_months
    group by user_id

)

select * from final
