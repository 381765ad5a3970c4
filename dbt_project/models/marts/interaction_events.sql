{#
    One row per de-duplicated event, for the recommender's temporal evaluation (train on what was
    known before a cut-off, test on what came after). loaded_at is when the event first reached the
    warehouse (its earliest-loaded delivery), which later redeliveries never change.
    Incremental (delete+insert on event_id): the events of int_interactions_enriched (re)written
    after this table's watermark are written again; a redelivery rewrites an identical row.
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
        'event_id',
        indexes=[
            {'columns': ['loaded_at']},
        ],
    )
}}

with

interactions as (

    select * from {{ ref('int_interactions_enriched') }}
    {% if incremental_by_key() %}
    where last_loaded_at > {{ incremental_watermark('loaded_at') }}
    {% endif %}

),

final as (

    select
        event_id,
        session_id,
        user_id,
        product_id,
        event_type,
        quantity,
        unit_price,
        order_id,
        recommendation_variant,
        occurred_at,
        first_loaded_at as loaded_at

    from interactions

)

select * from final
