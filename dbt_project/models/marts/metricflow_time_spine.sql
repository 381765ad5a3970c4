{#
    One row per day: the time spine MetricFlow joins to when a metric is asked for by day, week,
    month or year (and for cumulative or offset metrics). A fixed span from before any simulated or
    imported history to well past today. A view: a table would be rewritten by every build (the
    refresh loop's fixed cost) for rows that never change, and a few thousand generated days cost
    nothing to compute when a query needs them.
#}
{{ config(materialized='view') }}

with

days as (

    {{ day_spine("cast('2000-01-01' as date)", "cast('2051-01-01' as date)") }}

),

final as (

    select cast(date_day as date) as date_day

    from days

)

select * from final
