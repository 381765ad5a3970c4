{#
    One row per day: the time spine MetricFlow joins to when a metric is asked for by day, week,
    month or year (and for cumulative or offset metrics). A fixed span from before any simulated or
    imported history to well past today; built once, a few thousand rows.
#}
{{ config(materialized='table') }}

with

days as (

    {{ dbt.date_spine('day', "cast('2000-01-01' as date)", "cast('2051-01-01' as date)") }}

),

final as (

    select cast(date_day as date) as date_day

    from days

)

select * from final
