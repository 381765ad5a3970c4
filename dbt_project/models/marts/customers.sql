{#
    One row per registered user: activity, orders, lifetime revenue and an RFM segment.
    Recency is measured against the newest day of activity in the data (not the wall clock), so a
    simulated history gets the same segments whenever it is built.
    Rebuilt whole every run; statistics only for what the readers use (the dashboard groups by
    segment and sorts by last_seen_at, the relationships tests join on user_id).
#}
{{ config(meta={'analyze_columns': ['user_id', 'rfm_segment', 'last_seen_at']}) }}
with

users as (

    select * from {{ ref('stg_shop__users') }}

),

user_months as (

    select * from {{ ref('int_activity_aggregated_to_user_months') }}

),

as_of as (

    select max(occurred_date) as as_of_date from {{ ref('int_interactions_enriched') }}

),

totals as (

    select
        user_id,
        sum(sessions) as sessions,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        sum(orders) as orders,
        sum(units) as units,
        sum(revenue) as lifetime_revenue,
        min(first_order_at) as first_order_at,
        max(last_order_at) as last_order_at,
        max(last_order_date) as last_order_date

    from user_months
    group by user_id

),

customers as (

    select
        users.user_id,
        users.full_name,
        users.country_code,
        users.acquisition_channel,
        users.signed_up_at,
        coalesce(totals.sessions, 0) as sessions,
        totals.first_seen_at,
        totals.last_seen_at,
        totals.first_order_at,
        totals.last_order_at,
        coalesce(totals.orders, 0) as orders,
        coalesce(totals.units, 0) as units,
        {{ to_money('case when coalesce(totals.orders, 0) = 0 then 0 else totals.lifetime_revenue end') }}
            as lifetime_revenue,
        {{ to_money('totals.lifetime_revenue / nullif(totals.orders, 0)') }} as average_order_value,
        {{ dbt.datediff('totals.last_order_date', 'as_of.as_of_date', 'day') }} as recency_days

    from users
    cross join as_of
    left join totals
        on users.user_id = totals.user_id

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
        ntile(5) over (order by {{ to_money('totals.lifetime_revenue') }} nulls first, totals.user_id)
            as monetary_score

    from totals
    cross join as_of
    where
        totals.orders > 0
        and totals.user_id in (select users.user_id from users)

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
