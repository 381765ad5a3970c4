{#
    One row per price change of a product, as its events saw it, with units and conversion in the
    14 days before the change and the 14 days from it.

    The price series is each product's daily price in product_daily_performance (the price most of
    the day's events carried), not raw.products or its snapshot: events carry the price of their
    moment on a simulated history, an import and the live stream alike, while the snapshot holds
    only the prices that were current when a build ran (a history loaded at once has one version per
    product). A change is a day whose price differs from the price of the product's previous day with
    a price; it is dated on the first day the new price was seen (between `previous_price_seen_on`
    and `changed_on`, a product without events shows no price). A promotion is two changes: its
    start and its end.

    The windows: `before` is the 14 days before `changed_on`, `after` is `changed_on` and the 13 days
    after it. A product-session is a visit with any event on the product; it converts when the visit
    bought the product, so conversion = purchasing_sessions / sessions (a visit across midnight counts
    on both days). Another change inside a window also moves its figures: days_since_previous_change
    and days_until_next_change tell which changes stand alone.

    A table rebuilt from the daily grain (products x days with activity), never from the events: an
    appended day costs the same small scan as any build. It needs no snapshot, so plain `dbt run`
    (the Spark parity build, the app's fixtures) builds it too.
#}
{{
    config(
        materialized='table',
        meta={'analyze_columns': ['product_id', 'changed_on']},
    )
}}

with

days as (

    select
        product_id,
        activity_date,
        price,
        units_sold,
        views,
        sessions,
        purchasing_sessions,
        revenue,
        max_loaded_at

    from {{ ref('product_daily_performance') }}

),

priced_days as (

    select
        product_id,
        activity_date,
        price,
        lag(price) over (partition by product_id order by activity_date) as previous_price,
        lag(activity_date) over (partition by product_id order by activity_date) as previous_price_seen_on

    from days
    where price is not null

),

changes as (

    select
        product_id,
        activity_date as changed_on,
        previous_price,
        price as new_price,
        previous_price_seen_on,
        lag(activity_date) over (partition by product_id order by activity_date) as previous_changed_on,
        lead(activity_date) over (partition by product_id order by activity_date) as next_changed_on

    from priced_days
    where previous_price is not null and price <> previous_price

),

windowed as (

    select
        changes.product_id,
        changes.changed_on,
        {{ dbt.datediff('changes.changed_on', 'days.activity_date', 'day') }} as day_offset,
        days.units_sold,
        days.views,
        days.sessions,
        days.purchasing_sessions,
        days.revenue

    from changes
    inner join days
        on changes.product_id = days.product_id

),

effects as (

    select
        product_id,
        changed_on,
        sum(case when day_offset < 0 then units_sold else 0 end) as units_before,
        sum(case when day_offset >= 0 then units_sold else 0 end) as units_after,
        sum(case when day_offset < 0 then views else 0 end) as views_before,
        sum(case when day_offset >= 0 then views else 0 end) as views_after,
        sum(case when day_offset < 0 then sessions else 0 end) as sessions_before,
        sum(case when day_offset >= 0 then sessions else 0 end) as sessions_after,
        sum(case when day_offset < 0 then purchasing_sessions else 0 end) as purchasing_sessions_before,
        sum(case when day_offset >= 0 then purchasing_sessions else 0 end) as purchasing_sessions_after,
        sum(case when day_offset < 0 then revenue else 0 end) as revenue_before,
        sum(case when day_offset >= 0 then revenue else 0 end) as revenue_after

    from windowed
    where day_offset between -14 and 13
    group by product_id, changed_on

),

product_loads as (

    -- a late row on any day of the product can move its changes
    select
        product_id,
        max(max_loaded_at) as max_loaded_at

    from days
    group by product_id

),

final as (

    select
        changes.product_id,
        changes.changed_on,
        changes.previous_price_seen_on,
        {{ to_money('changes.previous_price') }} as previous_price,
        {{ to_money('changes.new_price') }} as new_price,
        {{ safe_ratio('changes.new_price - changes.previous_price', 'changes.previous_price') }}
            as relative_change,
        case when changes.new_price > changes.previous_price then 'increase' else 'decrease' end
            as direction,
        {{ dbt.datediff('changes.previous_changed_on', 'changes.changed_on', 'day') }}
            as days_since_previous_change,
        {{ dbt.datediff('changes.changed_on', 'changes.next_changed_on', 'day') }}
            as days_until_next_change,
        effects.units_before,
        effects.units_after,
        effects.views_before,
        effects.views_after,
        effects.sessions_before,
        effects.sessions_after,
        effects.purchasing_sessions_before,
        effects.purchasing_sessions_after,
        {{ safe_ratio('effects.purchasing_sessions_before', 'effects.sessions_before') }}
            as conversion_before,
        {{ safe_ratio('effects.purchasing_sessions_after', 'effects.sessions_after') }}
            as conversion_after,
        {{ to_money('effects.revenue_before') }} as revenue_before,
        {{ to_money('effects.revenue_after') }} as revenue_after,
        product_loads.max_loaded_at

    from changes
    inner join effects
        on
            changes.product_id = effects.product_id
            and changes.changed_on = effects.changed_on
    inner join product_loads
        on changes.product_id = product_loads.product_id

)

select * from final
