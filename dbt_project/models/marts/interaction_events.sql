{#
    One row per de-duplicated event, for the recommender's temporal evaluation (train on what was
    known before a cut-off, test on what came after). loaded_at is when the event first reached the
    warehouse (its earliest-loaded delivery), which later redeliveries never change.
    A view over int_interactions_enriched (indexed on first_loaded_at), not a copy: a second
    5M-row table keyed by a random uuid made every incremental run touch most of its index pages
    (cost growing with history, not with new data) for rows identical to the enriched ones.
#}
{{
    config(
        materialized='view',
        contract={'enforced': true},
    )
}}

with

interactions as (

    select * from {{ ref('int_interactions_enriched') }}

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
