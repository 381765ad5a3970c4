{#
    customers' lifetime units and revenue add up to sales_summary's totals: every order is counted
    once, for one customer. Whole-table sums over small marts, so it always runs on every row.
#}
with

daily as (

    select
        sum(units_sold) as units,
        sum(revenue) as revenue

    from {{ ref('sales_summary') }}

),

by_customer as (

    select
        sum(units) as units,
        sum(lifetime_revenue) as revenue

    from {{ ref('customers') }}

)

select
    daily.units as summary_units,
    by_customer.units as customer_units,
    daily.revenue as summary_revenue,
    by_customer.revenue as customer_revenue

from daily
cross join by_customer
where
    daily.units <> by_customer.units
    or daily.revenue <> by_customer.revenue
