{#
    One row per session (visit), from its events. Rebuilt per session: a session any of whose
    events was newly loaded is recomputed from all its events.
#}
{{
    config(
        materialized='incremental',
        on_schema_change='append_new_columns',
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

interactions as (

    select * from {{ ref('int_interactions_enriched') }}
    {% if incremental_by_key() %}
    where
        {% call in_keys('session_id') -%}
            select touched.session_id
            from {{ ref('int_interactions_enriched') }} as touched
            where touched.last_loaded_at > {{ incremental_watermark() }}  -- noqa: LT02
        {% endcall %}
    {% endif %}

),

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
