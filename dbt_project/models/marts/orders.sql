{#
    One row per order (checkout), numbered within its customer's orders. Incremental: a customer
    with a newly loaded order line gets the orders from the earliest such order on rebuilt (a late
    order renumbers the later ones; an order's time only moves earlier as lines arrive, so the
    orders before it keep their numbers). Numbering still counts every order of the customer.
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

{% if incremental_by_key() %}
-- Per touched customer, the earliest (new) time of a touched order: only orders from then on change.
touched_customers as (

    select
        user_id,
        min(ordered_at) as rebuild_from

    from {{ ref('int_purchases_aggregated_to_orders') }}
    where max_loaded_at > {{ incremental_watermark() }}
    group by user_id

),
{% endif %}

orders as (

    select * from {{ ref('int_purchases_aggregated_to_orders') }}
    {% if incremental_by_key() %}
    where
        {% call in_keys('user_id') -%}
            select touched_customers.user_id from touched_customers
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

select final.* from final
{% if incremental_by_key() %}
inner join touched_customers
    on
        final.user_id = touched_customers.user_id
        and final.ordered_at >= touched_customers.rebuild_from
{% endif %}
