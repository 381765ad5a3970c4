{#
    One row per registered user: activity, orders, lifetime revenue and an RFM segment.
    Recency is measured against the newest day of activity in the data (not the wall clock), so a
    simulated history gets the same segments whenever it is built.
    A view: every buyer's recency and ranks move with each new day, so a table would rewrite every
    buyer at every build. What stays is stored per user (int_users_joined_to_activity, incremental);
    the scores are computed on read from one stored row of quintile boundaries
    (int_customer_rfm_boundaries): the same scores as ntile(5) over the buyers.
#}
{{ config(materialized='view') }}


with

scored as (

    select
        joined.user_id,
        joined.full_name,
        joined.country_code,
        joined.acquisition_channel,
        joined.signed_up_at,
        joined.sessions,
        joined.first_seen_at,
        joined.last_seen_at,
        joined.first_order_at,
        joined.last_order_at,
        joined.orders,
        joined.units,
        joined.lifetime_revenue,
        joined.average_order_value,
        {{ dbt.datediff('joined.last_order_date', 'boundaries.as_of_date', 'day') }} as recency_days,
        {{ rfm_score('joined', 'boundaries', 'recency', 'last_order_date') }} as recency_score,
        {{ rfm_score('joined', 'boundaries', 'frequency', 'orders') }} as frequency_score,
        {{ rfm_score('joined', 'boundaries', 'monetary', 'lifetime_revenue', nulls_first=true) }} as monetary_score

    from {{ ref('int_users_joined_to_activity') }} as joined
    cross join {{ ref('int_customer_rfm_boundaries') }} as boundaries

),

final as (

    select
        *,
        case
            when orders = 0 then 'prospect'
            when recency_score >= 4 and frequency_score >= 4 then 'champion'
            when recency_score >= 3 and frequency_score >= 3 then 'loyal'
            when recency_score >= 4 then 'promising'
            when recency_score <= 2 and frequency_score >= 3 then 'at_risk'
            when recency_score <= 2 then 'hibernating'
            else 'needs_attention'
        end as rfm_segment

    from scored

)

select * from final
