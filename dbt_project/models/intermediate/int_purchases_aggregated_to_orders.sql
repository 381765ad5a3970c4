{#
    One row per order (checkout), built from its purchase events. Rebuilt per order: an order any
    of whose lines was newly loaded is recomputed from all its lines.
#}
{{
    config(
        materialized='incremental',
        on_schema_change='append_new_columns',
    )
}}
{{
    incremental_config(
        'order_id',
        indexes=[
            {'columns': ['order_id'], 'unique': True},
            {'columns': ['user_id', 'ordered_at']},
            {'columns': ['max_loaded_at']},
        ],
    )
}}

with

purchases as (

    select * from {{ ref('int_interactions_enriched') }}
    where
        event_type = 'purchase'
        {% if incremental_by_key() %}
        and {% call in_keys('order_id') -%}
            select touched.order_id
            from {{ ref('int_interactions_enriched') }} as touched
            where
                touched.event_type = 'purchase'
                and touched.last_loaded_at > {{ incremental_watermark() }}  -- noqa: LT02
        {% endcall %}
    {% endif %}

),

orders as (

    select
        order_id,
        min(user_id) as user_id,
        min(occurred_at) as ordered_at,
        min(occurred_date) as order_date,
        count(*) as order_lines,
        count(distinct product_id) as distinct_products,
        sum(quantity) as units,
        {{ to_money('sum(revenue)') }} as revenue,
        sum(is_recommended) as recommended_lines,
        max(last_loaded_at) as max_loaded_at

    from purchases
    group by order_id

)

select * from orders
