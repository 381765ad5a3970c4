{#
    One row per visit: who, which day it started, whether it ended in an order. The semantic layer's
    grain for visitor counts (distinct users over any period), which the daily marts cannot give.
    A view over int_interactions_aggregated_to_sessions: nothing to build or store.
#}
{{ config(materialized='view') }}

with

sessions as (

    select * from {{ ref('int_interactions_aggregated_to_sessions') }}

),

final as (

    select
        session_id,
        user_id,
        session_date,
        has_order,
        max_loaded_at

    from sessions

)

select * from final
