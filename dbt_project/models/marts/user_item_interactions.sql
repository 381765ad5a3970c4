{#
    The recommender's input: one row per user and product they interacted with, the count of each
    event type, the first and last interaction and purchase (null when never bought), and a
    weighted implicit-feedback score (weights in dbt_project.yml). Incremental: the (user, product) pairs touched by newly loaded events are recomputed from all their events.
#}
{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        contract={'enforced': true},
    )
}}
{{
    incremental_config(
        ['user_id', 'product_id'],
        indexes=[
            {'columns': ['max_loaded_at']},
        ],
    )
}}

with

{% if incremental_by_key() %}
touched_pairs as (

    select distinct
        user_id,
        product_id

    from {{ ref('int_interactions_enriched') }}
    where last_loaded_at > {{ incremental_watermark() }}

),
{% endif %}

interactions as (

    select events.*
    from {{ ref('int_interactions_enriched') }} as events
    {% if incremental_by_key() %}
    inner join touched_pairs
        on
            events.user_id = touched_pairs.user_id
            and events.product_id = touched_pairs.product_id
    {% endif %}

),

pairs as (

    select
        user_id,
        product_id,
        sum(is_view) as views,
        sum(is_add_to_cart) as add_to_carts,
        sum(is_purchase) as purchases,
        sum(units_purchased) as units_purchased,
        min(occurred_at) as first_interaction_at,
        max(occurred_at) as last_interaction_at,
        min(case when is_purchase = 1 then occurred_at end) as first_purchase_at,
        max(case when is_purchase = 1 then occurred_at end) as last_purchase_at,
        max(last_loaded_at) as max_loaded_at

    from interactions
    group by user_id, product_id

),

-- Units bought in the pair's newest purchase: how long that stock lasts drives re-buy timing.
last_purchases as (

    select
        interactions.user_id,
        interactions.product_id,
        sum(interactions.units_purchased) as last_purchase_units

    from interactions
    inner join pairs
        on
            interactions.user_id = pairs.user_id
            and interactions.product_id = pairs.product_id
            and interactions.occurred_at = pairs.last_purchase_at
    where interactions.is_purchase = 1
    group by interactions.user_id, interactions.product_id

),

final as (

    select
        pairs.user_id,
        pairs.product_id,
        cast(pairs.views as {{ dbt.type_bigint() }}) as views,
        cast(pairs.add_to_carts as {{ dbt.type_bigint() }}) as add_to_carts,
        cast(pairs.purchases as {{ dbt.type_bigint() }}) as purchases,
        cast(pairs.units_purchased as {{ dbt.type_bigint() }}) as units_purchased,
        pairs.first_interaction_at,
        pairs.last_interaction_at,
        pairs.first_purchase_at,
        pairs.last_purchase_at,
        cast(last_purchases.last_purchase_units as {{ dbt.type_bigint() }}) as last_purchase_units,
        cast(
            pairs.views * {{ var('feedback_weight_view') }}
            + pairs.add_to_carts * {{ var('feedback_weight_add_to_cart') }}
            + pairs.purchases * {{ var('feedback_weight_purchase') }}
            as numeric(18, 4)
        ) as feedback_score,
        pairs.max_loaded_at

    from pairs
    left join last_purchases
        on
            pairs.user_id = last_purchases.user_id
            and pairs.product_id = last_purchases.product_id

)

select * from final
