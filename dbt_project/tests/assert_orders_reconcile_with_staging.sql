{#
    Every purchase in staging belongs to exactly one order of marts.orders, with the same revenue
    and units, and marts.orders holds no order staging does not know. Without --full-refresh, only
    orders of recent days; while a live stream writes, only
    days it has not touched since the build (settled_days_filter).
#}
with

staged as (

    select
        order_id,
        sum(quantity * unit_price) as revenue,
        sum(quantity) as units,
        count(*) as order_lines

    from {{ ref('stg_shop__interactions') }}
    where
        event_type = 'purchase'
        and {{ recent_event_days_filter('occurred_date', settled_for=ref('orders')) }}
    group by order_id

),

orders as (

    select * from {{ ref('orders') }}
    where
        {{ recent_event_days_filter('order_date', settled_for=ref('orders')) }}

)

select
    staged.revenue as staged_revenue,
    orders.revenue as order_revenue,
    coalesce(staged.order_id, orders.order_id) as order_id

from staged
full outer join orders
    on staged.order_id = orders.order_id
where
    staged.order_id is null
    or orders.order_id is null
    or staged.revenue <> orders.revenue
    or staged.units <> orders.units
    or staged.order_lines <> orders.order_lines
