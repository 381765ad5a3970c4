{#
    sales_summary agrees with the de-duplicated events of staging, day by day: revenue, orders,
    customers, units, sessions and event counts. Without --full-refresh, only recent days; while a
    live stream writes, only the days it has not touched since the build (settled_days_filter).
#}
with

staged as (

    select
        occurred_date as activity_date,
        sum(case when event_type = 'purchase' then quantity * unit_price else 0 end) as revenue,
        count(distinct order_id) as orders,
        count(distinct case when event_type = 'purchase' then user_id end) as unique_customers,
        sum(case when event_type = 'purchase' then quantity else 0 end) as units_sold,
        count(distinct session_id) as sessions,
        sum(case when event_type = 'view' then 1 else 0 end) as views,
        sum(case when event_type = 'add_to_cart' then 1 else 0 end) as add_to_carts,
        sum(case when event_type = 'purchase' then 1 else 0 end) as purchases

    from {{ ref('stg_shop__interactions') }}
    where
        {{ recent_event_days_filter('occurred_date', settled_for=ref('sales_summary')) }}
    group by occurred_date

),

summary as (

    select * from {{ ref('sales_summary') }}
    where
        {{ recent_event_days_filter('activity_date', settled_for=ref('sales_summary')) }}

)

select
    staged.revenue as staged_revenue,
    summary.revenue as summary_revenue,
    staged.orders as staged_orders,
    summary.orders as summary_orders,
    coalesce(staged.activity_date, summary.activity_date) as activity_date

from staged
full outer join summary
    on staged.activity_date = summary.activity_date
where
    staged.activity_date is null
    or summary.activity_date is null
    or staged.revenue <> summary.revenue
    or staged.orders <> summary.orders
    or staged.unique_customers <> summary.unique_customers
    or staged.units_sold <> summary.units_sold
    or staged.sessions <> summary.sessions
    or staged.views <> summary.views
    or staged.add_to_carts <> summary.add_to_carts
    or staged.purchases <> summary.purchases
