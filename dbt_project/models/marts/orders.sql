{#
    One row per order (checkout), numbered within its customer's orders. Incremental: every order
    of a customer with a newly loaded order line is rebuilt (a late order renumbers the later ones).
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
            {'columns': ['user_id']},
            {'columns': ['order_date']},
            {'columns': ['max_loaded_at']},
        ],
    )
}}

with

orders as (

    select * from {{ ref('int_purchases_aggregated_to_orders') }}
    {% if incremental_by_key() %}
    where
        {% call in_keys('user_id') -%}
            select touched.user_id
            from {{ ref('int_purchases_aggregated_to_orders') }} as touched
            where touched.max_loaded_at > {{ incremental_watermark() }}  -- noqa: LT02
        {% endcall %}
    {% endif %}

),

final as (

    select
        order_id,
        user_id,
        ordered_at,
        order_date,
        order_lines,
        distinct_products,
        units,
        revenue,
        recommended_lines,
        {{ flag('recommended_lines > 0') }} as is_recommended,
        row_number() over (partition by user_id order by ordered_at, order_id) as customer_order_number,
        max_loaded_at

    from orders

)

select * from final
