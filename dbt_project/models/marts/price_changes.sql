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

    Built from the daily grain (products x days with activity), never from the events. Incremental,
    keyed by (product_id, changed_on): of the products with daily rows loaded after the watermark, a
    run rebuilds the changes from 13 days before the earliest such row on (macros/price_changes.sql)
    and moves the distance to the next change of each product's last change before them. It reads
    the daily rows from 14 days before the first rebuilt change on and, for the price before them,
    each product's last priced day before those (one look-up in the daily table's product index).
    max_loaded_at is the newest load of the days a change's row is built from: its two windows and
    its previous price's day.
    It needs no snapshot, so plain `dbt run` (the Spark parity build, the app's fixtures) builds it too.
#}
{{
    config(
        materialized='incremental',
        on_schema_change='append_new_columns',
        pre_hook="{{ forget_rebuilt_price_changes() }}",
        meta={'analyze_columns': ['product_id', 'changed_on']},
    )
}}
{{
    incremental_config(
        ['product_id', 'changed_on'],
        indexes=[{'columns': ['product_id', 'changed_on'], 'unique': True}],
    )
}}
{%- set rebuilt_from = price_changes_rebuilt_from() if incremental_by_key() else none %}
{%- set read_from = 'cast(' ~ dbt.dateadd('day', -14, rebuilt_from) ~ ' as date)' if rebuilt_from else none %}

with
{%- if rebuilt_from %}

touched_products as (

    {{ price_changes_touched_products() }}

),
{%- endif %}

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
    {%- if rebuilt_from %}
    where
        activity_date >= {{ read_from }}
        and product_id in (select touched_products.product_id from touched_products)
    {%- endif %}

),

price_series as (

    select
        product_id,
        activity_date,
        price,
        max_loaded_at

    from days
    where price is not null
    {%- if rebuilt_from %}

    union all

    -- the price each touched product had before the days read
    select
        earlier.product_id,
        earlier.activity_date,
        earlier.price,
        earlier.max_loaded_at

    from touched_products
    cross join
        lateral (
            select
                priced.product_id,
                priced.activity_date,
                priced.price,
                priced.max_loaded_at

            from {{ ref('product_daily_performance') }} as priced
            where
                priced.product_id = touched_products.product_id
                and priced.activity_date < {{ read_from }}
                and priced.price is not null
            order by priced.activity_date desc
            limit 1
        ) as earlier
    {%- endif %}

),

priced_days as (

    select
        product_id,
        activity_date,
        price,
        lag(price) over (partition by product_id order by activity_date) as previous_price,
        lag(activity_date) over (partition by product_id order by activity_date) as previous_price_seen_on,
        lag(max_loaded_at) over (partition by product_id order by activity_date) as previous_price_loaded_at

    from price_series

),

new_changes as (

    select
        product_id,
        activity_date as changed_on,
        previous_price,
        price as new_price,
        previous_price_seen_on,
        previous_price_loaded_at,
        lag(activity_date) over (partition by product_id order by activity_date) as previous_changed_on,
        lead(activity_date) over (partition by product_id order by activity_date) as next_changed_on

    from priced_days
    {%- if rebuilt_from %}
    where
        previous_price is not null
        and price <> previous_price
        and activity_date >= {{ rebuilt_from }}
    {%- else %}
    where previous_price is not null and price <> previous_price
    {%- endif %}

),
{%- if rebuilt_from %}

-- Each touched product's last stored change before the rebuilt ones: the previous change of the
-- first rebuilt one, and a row of its own whose distance to the next change may move.
kept_changes as (

    select last_stored.*

    from touched_products
    cross join lateral (
        select stored_change.*
        from {{ this }} as stored_change
        where
            stored_change.product_id = touched_products.product_id
            and stored_change.changed_on < {{ rebuilt_from }}
        order by stored_change.changed_on desc
        limit 1
    ) as last_stored

),
{%- endif %}

changes as (

    select
        new_changes.product_id,
        new_changes.changed_on,
        new_changes.previous_price,
        new_changes.new_price,
        new_changes.previous_price_seen_on,
        new_changes.previous_price_loaded_at,
        {%- if rebuilt_from %}
        coalesce(new_changes.previous_changed_on, kept_changes.changed_on) as previous_changed_on,
        {%- else %}
        new_changes.previous_changed_on,
        {%- endif %}
        new_changes.next_changed_on

    {%- if rebuilt_from %}
    from new_changes
    left join kept_changes  -- noqa: ST11
        on new_changes.product_id = kept_changes.product_id
    {%- else %}
    from new_changes
    {%- endif %}

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
        days.revenue,
        days.max_loaded_at

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
        sum(case when day_offset >= 0 then revenue else 0 end) as revenue_after,
        max(max_loaded_at) as windows_loaded_at

    from windowed
    where day_offset between -14 and 13
    group by product_id, changed_on

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
        greatest(effects.windows_loaded_at, changes.previous_price_loaded_at) as max_loaded_at

    from changes
    inner join effects
        on
            changes.product_id = effects.product_id
            and changes.changed_on = effects.changed_on

)
{%- if rebuilt_from %},

next_changes as (

    select
        product_id,
        min(changed_on) as changed_on

    from new_changes
    group by product_id

),

-- The kept changes with their distance to the next change as the rebuilt ones give it (none when
-- a late row undid the only later change).
kept as (

    select
        kept_changes.product_id,
        kept_changes.changed_on,
        kept_changes.previous_price_seen_on,
        kept_changes.previous_price,
        kept_changes.new_price,
        kept_changes.relative_change,
        kept_changes.direction,
        kept_changes.days_since_previous_change,
        {{ dbt.datediff('kept_changes.changed_on', 'next_changes.changed_on', 'day') }} as days_until_next_change,
        kept_changes.units_before,
        kept_changes.units_after,
        kept_changes.views_before,
        kept_changes.views_after,
        kept_changes.sessions_before,
        kept_changes.sessions_after,
        kept_changes.purchasing_sessions_before,
        kept_changes.purchasing_sessions_after,
        kept_changes.conversion_before,
        kept_changes.conversion_after,
        kept_changes.revenue_before,
        kept_changes.revenue_after,
        kept_changes.max_loaded_at

    from kept_changes
    left join next_changes
        on kept_changes.product_id = next_changes.product_id

)

select * from final
union all
select * from kept
{%- else %}

select * from final
{%- endif %}
