{#
    One row per registered user: who they are and their lifetime totals (the sums of their months),
    everything of `customers` that does not change for a user who neither changes nor shops.
    `customers` is this table with the recency and RFM scores of the newest day
    (int_customer_rfm_boundaries) computed on read.
    Incremental: rebuilds the users with a newly rebuilt month and the users written to raw.users
    since the previous build (its change marker updated_at, from the mark the hooks keep in the
    table's comment: users_written_since_mark), summing each of them again from all their months
    (a user's totals change only with rebuilt months, and the first of them holds the newly loaded
    session or order, with its load time). Both reads take the same users (in_keys). The totals
    are summed here, not in a model of their own: that model was one more link (a node and its
    tests' gate) between the user months and the RFM boundaries at the end of every build.
    A user removed from raw.users is deleted after the merge (remove_unregistered_users).
    Statistics only for what the readers use (the dashboard sorts customers by last_seen_at, the
    boundaries read the buyers, the tests join on user_id).
#}
{{
    config(
        materialized='incremental',
        on_schema_change='append_new_columns',
        pre_hook="{{ take_users_mark() }}",
        post_hook=["{{ remove_unregistered_users() }}", "{{ keep_users_mark() }}"],
        meta={'analyze_columns': ['user_id', 'orders', 'last_seen_at']},
    )
}}
{{
    incremental_config(
        'user_id',
        indexes=[{'columns': ['user_id'], 'unique': True}],
    )
}}

{% if incremental_by_key() %}
{#- The users this run rebuilds: a user month newly rebuilt, or a row written to raw.users since the mark. -#}
{% set touched_users -%}
    select touched.user_id
    from {{ ref('int_activity_aggregated_to_user_months') }} as touched
    where touched.max_loaded_at > {{ incremental_watermark() }}
    union all
    {{ users_written_since_mark() }}
{%- endset %}
{% endif %}

with

registered as (

    select * from {{ ref('stg_shop__users') }}
    {% if incremental_by_key() %}
    where
        {% call in_keys('user_id') -%}
            {{ touched_users }}  -- noqa: LT02
        {% endcall %}
    {% endif %}

),

totals as (

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

    from {{ ref('int_activity_aggregated_to_user_months') }}
    {% if incremental_by_key() %}
    where
        {% call in_keys('user_id') -%}
            {{ touched_users }}  -- noqa: LT02
        {% endcall %}
    {% endif %}
    group by user_id

),

final as (

    select
        registered.user_id,
        registered.full_name,
        registered.country_code,
        registered.acquisition_channel,
        registered.signed_up_at,
        coalesce(totals.sessions, 0) as sessions,
        totals.first_seen_at,
        totals.last_seen_at,
        totals.first_order_at,
        totals.last_order_at,
        coalesce(totals.orders, 0) as orders,
        coalesce(totals.units, 0) as units,
        {{ to_money('case when coalesce(totals.orders, 0) = 0 then 0 else totals.revenue end') }}
            as lifetime_revenue,
        {{ to_money('totals.revenue / nullif(totals.orders, 0)') }} as average_order_value,
        totals.last_order_date,
        totals.max_loaded_at

    from registered
    left join totals
        on registered.user_id = totals.user_id

)

select * from final
