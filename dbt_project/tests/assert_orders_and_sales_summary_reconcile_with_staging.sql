{#
    marts.orders and sales_summary agree with the de-duplicated events of staging:
    - every purchase in staging belongs to exactly one order of marts.orders, with the same revenue,
      units and lines, and marts.orders holds no order staging does not know;
    - sales_summary, day by day: revenue, orders, customers, units, sessions and event counts.
    Without --full-refresh, only recent days; while a live stream writes, only the days it has not
    touched since each mart was built (settled_days_filter). One test for both: de-duplicating
    staging's recent days is most of either check, and here it is done once for the two (a CTE read
    twice is materialised). Each failing row names its check in `reconciliation`.
    Staging is read as the view is defined (the de-duplication of raw, macros/deduplicated_interactions.sql),
    partitioned day first when it reads the recent days: raw's day index returns them one after the
    other, so the de-duplication sorts a day at a time. Every day (--full-refresh) keeps the view's
    order, which sorts a scan of the whole table rather than walking that index.
#}
-- depends_on: {{ ref('stg_shop__interactions') }}
{#- The four filters read raw's recent days and each mart's bound once (the memo), not once each. #}
{%- set memo = {} %}
{%- set for_orders = recent_event_days_filter('occurred_date', settled_for=ref('orders'), memo=memo) %}
{%- set for_summary = recent_event_days_filter('occurred_date', settled_for=ref('sales_summary'), memo=memo) %}

with

staged_events as (

    select
        occurred_date,
        event_type,
        order_id,
        user_id,
        session_id,
        quantity,
        unit_price

    from ({{ deduplicated_interactions(source('shop', 'interactions'), day_first=not test_scope_is_full()) }}) as staged
    {%- if for_orders == for_summary %}
    where {{ for_orders }}
    {%- else %}
    where ({{ for_orders }}) or ({{ for_summary }})
    {%- endif %}

),

staged_orders as (

    select
        order_id,
        sum(quantity * unit_price) as revenue,
        sum(quantity) as units,
        count(*) as order_lines

    from staged_events
    where
        event_type = 'purchase'
        and {{ for_orders }}
    group by order_id

),

orders as (

    select * from {{ ref('orders') }}
    where
        {{ recent_event_days_filter('order_date', settled_for=ref('orders'), memo=memo) }}

),

staged_days as (

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

    from staged_events
    where {{ for_summary }}
    group by occurred_date

),

summary as (

    select * from {{ ref('sales_summary') }}
    where
        {{ recent_event_days_filter('activity_date', settled_for=ref('sales_summary'), memo=memo) }}

)

select
    'orders' as reconciliation,
    cast(coalesce(staged_orders.order_id, orders.order_id) as {{ dbt.type_string() }}) as reconciled_key,
    staged_orders.revenue as staged_revenue,
    orders.revenue as mart_revenue

from staged_orders
full outer join orders
    on staged_orders.order_id = orders.order_id
where
    staged_orders.order_id is null
    or orders.order_id is null
    or staged_orders.revenue <> orders.revenue
    or staged_orders.units <> orders.units
    or staged_orders.order_lines <> orders.order_lines

union all

select
    'sales_summary' as reconciliation,
    cast(coalesce(staged_days.activity_date, summary.activity_date) as {{ dbt.type_string() }}) as reconciled_key,
    staged_days.revenue as staged_revenue,
    summary.revenue as mart_revenue

from staged_days
full outer join summary
    on staged_days.activity_date = summary.activity_date
where
    staged_days.activity_date is null
    or summary.activity_date is null
    or staged_days.revenue <> summary.revenue
    or staged_days.orders <> summary.orders
    or staged_days.unique_customers <> summary.unique_customers
    or staged_days.units_sold <> summary.units_sold
    or staged_days.sessions <> summary.sessions
    or staged_days.views <> summary.views
    or staged_days.add_to_carts <> summary.add_to_carts
    or staged_days.purchases <> summary.purchases
