{#
    One row per day of shop activity: sales, traffic and conversion. Incremental: the days touched
    by newly loaded events are rebuilt whole (keyed by activity_date).
#}
{{
    config(
        materialized='incremental',
        pre_hook="{{ bitmap_scans_only() }}",
        on_schema_change='fail',
        contract={'enforced': true},
    )
}}
{{ incremental_config('activity_date', day_key='activity_date') }}

with

interactions as (

    select * from {{ ref('int_interactions_enriched') }}
    {% if is_incremental() %}
    where occurred_date in ({{ touched_event_days() }})
    {% endif %}

),

daily as (

    select
        occurred_date as activity_date,
        sum(revenue) as revenue,
        count(distinct order_id) as orders,
        count(distinct case when is_purchase = 1 then user_id end) as unique_customers,
        sum(units_purchased) as units_sold,
        count(distinct case when is_purchase = 1 then product_id end) as distinct_products_sold,
        count(distinct session_id) as sessions,
        count(distinct case when is_purchase = 1 then session_id end) as converting_sessions,
        sum(is_view) as views,
        sum(is_add_to_cart) as add_to_carts,
        sum(is_purchase) as purchases,
        max(last_loaded_at) as max_loaded_at

    from interactions
    group by occurred_date

),

final as (

    select
        activity_date,
        {{ to_money('revenue') }} as revenue,
        cast(orders as {{ dbt.type_bigint() }}) as orders,
        cast(unique_customers as {{ dbt.type_bigint() }}) as unique_customers,
        cast(units_sold as {{ dbt.type_bigint() }}) as units_sold,
        cast(distinct_products_sold as {{ dbt.type_bigint() }}) as distinct_products_sold,
        {{ to_money('revenue / nullif(orders, 0)') }} as average_order_value,
        cast(sessions as {{ dbt.type_bigint() }}) as sessions,
        cast(converting_sessions as {{ dbt.type_bigint() }}) as converting_sessions,
        cast(views as {{ dbt.type_bigint() }}) as views,
        cast(add_to_carts as {{ dbt.type_bigint() }}) as add_to_carts,
        cast(purchases as {{ dbt.type_bigint() }}) as purchases,
        {{ safe_ratio('add_to_carts', 'views') }} as view_to_cart_rate,
        {{ safe_ratio('converting_sessions', 'sessions') }} as session_to_order_rate,
        max_loaded_at

    from daily

)

select * from final
