{#
    One row per registered user: activity, orders, lifetime revenue and an RFM segment.
    Recency is measured against the newest day of activity in the data (not the wall clock), so a
    simulated history gets the same segments whenever it is built.
    Rebuilt whole every run, from the users' lifetime totals (int_activity_aggregated_to_users,
    incremental): a join and a ranking of the buyers, no aggregation of the history. Incremental
    by user was tried and cost as much: every buyer's row changes with each new day (recency, the
    ranks among all buyers), and raw.users has no change marker, so finding new or changed users
    means comparing every user with the stored row anyway.
    Statistics only for what the readers use (the dashboard groups by segment and sorts by
    last_seen_at, the relationships tests join on user_id).
#}
{{ config(meta={'analyze_columns': ['user_id', 'rfm_segment', 'last_seen_at']}) }}
with

as_of as (

    select max(occurred_date) as as_of_date from {{ ref('int_interactions_enriched') }}

),

-- The inputs are named where they are read, not shared as CTEs: PostgreSQL would write a CTE
-- with two readers (every user, every user's totals) to a temporary file first.
customers as (

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
        {{ dbt.datediff('totals.last_order_date', 'as_of.as_of_date', 'day') }} as recency_days

    from {{ ref('stg_shop__users') }} as registered
    cross join as_of
    left join {{ ref('int_activity_aggregated_to_users') }} as totals
        on registered.user_id = totals.user_id

),

buyers as (

    -- The scores rank the users with orders only: a sort of those few narrow rows, not of every
    -- registered user's whole row (most never order). Read from the totals, not from `customers`:
    -- a second reader of that CTE would make PostgreSQL write all its rows to a temporary file
    -- (it inlines a CTE read once). The same expressions as `customers`' columns, on its users.
    select
        totals.user_id,
        ntile(5) over (
            order by {{ dbt.datediff('totals.last_order_date', 'as_of.as_of_date', 'day') }} desc, totals.user_id asc
        ) as recency_score,
        ntile(5) over (order by totals.orders, totals.user_id) as frequency_score,
        -- unknown revenue (orders without prices) ranks lowest: no evidence of spend
        ntile(5) over (order by {{ to_money('totals.revenue') }} nulls first, totals.user_id)
            as monetary_score

    from {{ ref('int_activity_aggregated_to_users') }} as totals
    cross join as_of
    where
        totals.orders > 0
        and totals.user_id in (select registered.user_id from {{ ref('stg_shop__users') }} as registered)

),

scored as (

    select
        customers.*,
        buyers.recency_score,
        buyers.frequency_score,
        buyers.monetary_score

    from customers
    left join buyers
        on customers.user_id = buyers.user_id

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
