{#
    The anomaly checks' scored windows (`alerts` flags them): one row per series, window length and
    window end judged (value, median or expected count, robust score), and every window of a small
    count's series (later windows' dispersions sum their misses).

    A score depends on the data only, not on when the build runs: a series starts at its first hour
    in the monitoring tables; sums are exact (numerics of a fixed scale) over fixed spans.

    Kept, whatever the history's length: the windows ending in the last `alert_evaluation_days` days
    and the `baseline_days` before (their misses make later dispersions). A full refresh reads back
    as far as their pools and their misses' pools need (`read_days`).

    Incremental: a run scores again the windows ending after `since` less a day (a visit across
    midnight counts on the day it began), reading the 30 days before them and the stored windows of
    small counts, replaces them by window end (every hour has windows of the event counts); the
    post-hook deletes those no longer kept. `since`: the earliest hour loaded after the stored
    windows' newest load, or the newest stored window, whichever is earlier; with nothing stored, a
    new catalogue or settings, or misses it needs no longer kept: everything kept.
    PostgreSQL only: the shop's monitoring runs where the dashboard reads.
#}
{%- set evaluation_days = var('alert_evaluation_days') | int -%}
{#- a dispersion sums the misses of four weeks before; an incremental run reads 30 days -#}
{%- set baseline_days = 30 -%}
{#- a kept window's oldest miss, and four weeks and a window before it for its pool -#}
{%- set read_days = 58 -%}
{%- set kept_days = evaluation_days + baseline_days -%}
{#- (the post-hook: the newest window ends at the hour still filling) -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='window_end',
        on_schema_change='fail',
        indexes=[{'columns': ['window_end']}],
        post_hook=[
            "delete from {{ this }} where window_end"
            ~ " <= (select max(window_end) from {{ this }}) - interval '" ~ kept_days ~ " days'"
        ],
    )
}}

{%- set overlap = var('watermark_overlap_minutes', 5) | int -%}
{%- set relative_floor = var('alert_relative_floor') -%}
{%- set scored_with = 'floor ' ~ relative_floor ~ ', late ' ~ var('late_after_hours')
    ~ ', kept ' ~ kept_days ~ ' days' -%}
{#- The hour after which windows are scored again (a timestamp literal), or none: every window. -#}
{%- set since = none -%}
{%- if is_incremental() and inline_queries() -%}
    {%- set since_query -%}
        with stored as (
            select
                max(window_end) as newest_window,
                max(max_loaded_at) - interval '{{ overlap }} minutes' as watermark,
                max(category_fingerprint) as category_fingerprint,
                max(scored_with) as scored_with,
                -- an older since reads back to misses no longer kept
                greatest(
                    (select max(event_hour) from {{ ref('monitoring_events_hourly') }}),
                    (select max(loaded_hour) from {{ ref('monitoring_loads_hourly') }} where source_table = 'raw.interactions')
                ) - interval '{{ kept_days - 31 }} days' as oldest_since
            from {{ this }}
        )

        select cast(
            case
                when stored.newest_window is null or stored.watermark is null then null
                when stored.scored_with is distinct from '{{ scored_with }}' then null
                when stored.category_fingerprint is distinct from (
                    select max(category_fingerprint) from {{ ref('monitoring_category_hourly') }}
                ) then null
                else nullif(greatest(stored.oldest_since, least(
                    stored.newest_window,
                    (
                        select min(event_hour) from {{ ref('monitoring_events_hourly') }}
                        where max_loaded_at > stored.watermark
                    ),
                    (
                        select min(event_hour) from {{ ref('monitoring_category_hourly') }}
                        where max_loaded_at > stored.watermark
                    ),
                    (
                        select min(loaded_hour) from {{ ref('monitoring_loads_hourly') }}
                        where max_loaded_at > stored.watermark
                    ),
                    (
                        select cast(min(activity_date) as {{ type_timestamp_tz() }})
                        from {{ ref('sales_summary') }}
                        where max_loaded_at > stored.watermark
                    ),
                    (
                        select cast(min(event_date) as {{ type_timestamp_tz() }})
                        from {{ ref('monitoring_product_prices_daily') }}
                        where max_loaded_at > stored.watermark
                    )
                )), stored.oldest_since)
            end as {{ dbt.type_string() }})
        from stored
    {%- endset -%}
    {%- set since = run_query(since_query).columns[0].values()[0] -%}
{%- endif -%}
{%- set since_sql = "cast('" ~ since ~ "' as " ~ type_timestamp_tz() ~ ")" if since is not none else none -%}

{#- percentile_cont(0.5) of four values (at most one null), bit for bit as PostgreSQL computes it
    (the lower middle plus half the gap to the upper; of three, the middle): an expression. -#}
{%- set median_sql = {} -%}
{%- for column, v in [
    ('median', ['week_1', 'week_2', 'week_3', 'week_4']),
    ('mad', ['deviation_1', 'deviation_2', 'deviation_3', 'deviation_4'])
] -%}
{%- set pair_lows = 'least(' ~ v[0] ~ ', ' ~ v[1] ~ '), least(' ~ v[2] ~ ', ' ~ v[3] ~ ')' -%}
{%- set pair_highs = 'greatest(' ~ v[0] ~ ', ' ~ v[1] ~ '), greatest(' ~ v[2] ~ ', ' ~ v[3] ~ ')' -%}
{%- set low = 'least(greatest(' ~ pair_lows ~ '), least(' ~ pair_highs ~ '))' -%}
{%- set high = 'greatest(greatest(' ~ pair_lows ~ '), least(' ~ pair_highs ~ '))' -%}
{%- set cases = [] -%}
{%- for missing in range(4) -%}
{%- set rest = v[:missing] + v[missing + 1:] -%}
{%- set _ = cases.append('when ' ~ v[missing] ~ ' is null then greatest(least(' ~ rest[0] ~ ', ' ~ rest[1]
    ~ '), least(greatest(' ~ rest[0] ~ ', ' ~ rest[1] ~ '), ' ~ rest[2] ~ '))') -%}
{%- endfor -%}
{%- set _ = median_sql.update({column: 'case\n            ' ~ cases | join('\n            ')
    ~ '\n            else ' ~ low ~ '\n                + cast(0.5 as double precision) * ('
    ~ high ~ ' - ' ~ low ~ ')\n        end'}) -%}
{%- endfor %}


with

hourly as (

    select * from {{ ref('monitoring_events_hourly') }}

),

loads as (

    select * from {{ ref('monitoring_loads_hourly') }}

),

-- The hour still filling (the newest with an event or an arrival): judged are the hours before it.
clock as (

    select
        greatest(
            (select max(event_hour) from hourly),
            (
                select max(loaded_hour) from loads
                where source_table = 'raw.interactions'
            )
        ) as now_hour

),

-- Scored (again): the windows ending after rescored_after, reading from read_from.
bounds as (

    select
        now_hour,
        now_hour - interval '{{ kept_days }} days' as kept_from,
        {% if since_sql -%}
        {{ since_sql }} - interval '1 day' as rescored_after,
        {{ since_sql }} - interval '1 day' - interval '30 days' as read_from
        {%- else -%}
        now_hour - interval '{{ kept_days }} days' as rescored_after,
        now_hour - interval '{{ kept_days + read_days }} days' as read_from
        {%- endif %}

    from clock

),

events as (

    select hourly.*
    from {{ ref('monitoring_events_hourly') }} as hourly
    cross join bounds
    where
        hourly.event_hour < bounds.now_hour
        and hourly.event_hour >= bounds.read_from

),

categories as (

    select hourly.*
    from {{ ref('monitoring_category_hourly') }} as hourly
    cross join bounds
    where
        hourly.event_hour < bounds.now_hour
        and hourly.event_hour >= bounds.read_from

),

-- every category ever
category_names as (

    select distinct category from {{ ref('monitoring_category_hourly') }}

),

category_totals as (

    select
        event_hour,
        sum(distinct_users) as distinct_users
    from categories
    group by event_hour

),

-- Every hourly series: `num` (and `den`) per hour. shape: count (alerts when it drops), rising share
-- (num out of den), drop heads (distinct users against their usual pooled share), ratio (num per den).
series_hours as (

    select
        'volume' as kind,
        'events: ' || event_type as metric,
        'count' as shape,
        event_hour as hour_start,
        events as num,
        distinct_users as den
    from events

    union all

    select
        'delivery' as kind,
        'duplicate deliveries' as metric,
        'rising share' as shape,
        event_hour as hour_start,
        sum(deliveries - events) as num,
        sum(events) as den
    from events
    group by event_hour

    union all

    select
        'delivery' as kind,
        'late arrivals (over {{ var("late_after_hours") }} h)' as metric,
        'rising share' as shape,
        event_hour as hour_start,
        sum(late_events) as num,
        sum(events) as den
    from events
    group by event_hour

    union all

    -- a category's visitors out of every category's (an hour without its events has the others')
    select
        'volume' as kind,
        'visitors in category: ' || category_names.category as metric,
        'drop heads' as shape,
        category_totals.event_hour as hour_start,
        coalesce(categories.distinct_users, 0) as num,
        category_totals.distinct_users as den
    from category_totals
    cross join category_names
    left join categories
        on category_totals.event_hour = categories.event_hour and category_names.category = categories.category

    union all

    -- checkout: buyers out of carting visitors (views and carts go on when it breaks)
    select
        'volume' as kind,
        'buyers per carting visitor' as metric,
        'drop heads' as shape,
        event_hour as hour_start,
        sum(case when event_type = 'purchase' then distinct_users else 0 end) as num,
        sum(case when event_type = 'add_to_cart' then distinct_users else 0 end) as den
    from events
    group by event_hour

    union all

    select
        'traffic' as kind,
        'views per viewer' as metric,
        'ratio' as shape,
        event_hour as hour_start,
        events as num,
        distinct_users as den
    from events
    where event_type = 'view'

    union all

    -- a bot: the hour's heaviest viewer, summed over a window (views per viewer move with visits)
    select
        'traffic' as kind,
        'views of the heaviest viewer an hour' as metric,
        'peak' as shape,
        event_hour as hour_start,
        top_user_events as num,
        1 as den
    from events
    where event_type = 'view'

    union all

    select
        'freshness' as kind,
        'arrivals: ' || loads.source_table as metric,
        'count' as shape,
        loads.loaded_hour as hour_start,
        loads.rows_loaded as num,
        loads.senders as den
    from loads cross join bounds
    where
        loads.loaded_hour < bounds.now_hour
        and loads.loaded_hour >= bounds.read_from

),

-- Each series and its first hour in the monitoring tables, whatever the span read.
series as (

    select
        'volume' as kind,
        'events: ' || event_type as metric,
        'count' as shape,
        min(event_hour) as first_hour
    from hourly
    group by event_type

    union all

    select
        shop.kind,
        shop.metric,
        shop.shape,
        (select min(earliest.event_hour) from hourly as earliest) as first_hour
    from (
        values
        ('delivery', 'duplicate deliveries', 'rising share'),
        ('delivery', 'late arrivals (over {{ var("late_after_hours") }} h)', 'rising share'),
        ('volume', 'buyers per carting visitor', 'drop heads')
    ) as shop (kind, metric, shape)
    where exists (select 1 from hourly)

    union all

    select
        viewers.kind,
        viewers.metric,
        viewers.shape,
        (
            select min(earliest.event_hour) from hourly as earliest
            where earliest.event_type = 'view'
        ) as first_hour
    from (
        values
        ('traffic', 'views per viewer', 'ratio'),
        ('traffic', 'views of the heaviest viewer an hour', 'peak')
    ) as viewers (kind, metric, shape)
    where
        exists (
            select 1 from hourly as viewed
            where viewed.event_type = 'view'
        )

    union all

    select
        'volume' as kind,
        'visitors in category: ' || category_names.category as metric,
        'drop heads' as shape,
        (select min(earliest.event_hour) from {{ ref('monitoring_category_hourly') }} as earliest) as first_hour
    from category_names

    union all

    select
        'freshness' as kind,
        'arrivals: ' || source_table as metric,
        'count' as shape,
        min(loaded_hour) as first_hour
    from loads
    group by source_table

),

-- Hours without a row are zeros (a union and a group by: a join on the unions is misestimated).
spine as (

    select
        series.kind,
        series.metric,
        series.shape,
        hours.hour_start
    from series
    cross join bounds
    cross join
        lateral generate_series(
            greatest(series.first_hour, bounds.read_from),
            bounds.now_hour - interval '1 hour',
            interval '1 hour'
        ) as hours (hour_start)

),

dense as (

    select
        padded.kind,
        padded.metric,
        padded.shape,
        series.first_hour,
        padded.hour_start,
        -- integers: the sums over windows stay bigint
        cast(sum(padded.num) as integer) as num,
        cast(sum(padded.den) as integer) as den

    from (
        select
            kind,
            metric,
            shape,
            hour_start,
            num,
            den
        from series_hours
        union all
        select
            kind,
            metric,
            shape,
            hour_start,
            0 as num,
            0 as den
        from spine
    ) as padded
    inner join series
        on padded.kind = series.kind and padded.metric = series.metric
    group by padded.kind, padded.metric, padded.shape, series.first_hour, padded.hour_start

),

rolled as (

    select
        *,
        sum(num) over five_hours as num_5,
        sum(den) over five_hours as den_5,
        sum(num) over six_hours as num_6,
        sum(den) over six_hours as den_6,
        sum(num) over one_day as num_24,
        sum(den) over one_day as den_24,
        -- running totals (an earlier span's sum: a difference of two)
        sum(num) over since_first as num_so_far,
        sum(den) over since_first as den_so_far,
        -- events per head over the past week: counts of visits' events vary by sqrt(median x that)
        cast(sum(num) over past_week as double precision) / nullif(sum(den) over past_week, 0) as per_head

    from dense
    window
        five_hours as (partition by kind, metric order by hour_start rows between 4 preceding and current row),
        six_hours as (partition by kind, metric order by hour_start rows between 5 preceding and current row),
        one_day as (partition by kind, metric order by hour_start rows between 23 preceding and current row),
        past_week as (partition by kind, metric order by hour_start rows between 167 preceding and current row),
        since_first as (partition by kind, metric order by hour_start rows unbounded preceding)

),

-- One row per series, length and end (wholly inside the series' history).
windows as (

    select
        rolled.kind,
        rolled.metric,
        rolled.shape,
        sizes.window_hours,
        sizes.x_num,
        sizes.x_den,
        rolled.hour_start - (sizes.window_hours - 1) * interval '1 hour' as window_start,
        rolled.hour_start + interval '1 hour' as window_end,
        case when rolled.shape = 'count' then greatest(coalesce(rolled.per_head, 1), 1) else 1 end as per_head,
        rolled.num_so_far - sizes.x_num as num_before,
        rolled.den_so_far - sizes.x_den as den_before,
        case
            when rolled.shape = 'count' then cast(sizes.x_num as double precision)
            else cast(sizes.x_num as double precision) / nullif(sizes.x_den, 0)
        end as metric_value

    from rolled
    cross join
        lateral (
            values
            (1, rolled.num, rolled.den),
            (5, rolled.num_5, rolled.den_5),
            (6, rolled.num_6, rolled.den_6),
            (24, rolled.num_24, rolled.den_24)
        ) as sizes (window_hours, x_num, x_den)
    where
        rolled.hour_start - (sizes.window_hours - 1) * interval '1 hour' >= rolled.first_hour
        -- five hours: heads only (a six-hour stop that began within an hour)
        and (sizes.window_hours <> 5 or rolled.shape = 'drop heads')
        -- one hour: only counts and shares flag one (alerts' hourly_flagged)
        and (sizes.window_hours <> 1 or rolled.shape in ('count', 'rising share'))

),

-- The same window 1 to 4 weeks earlier (the spine is dense: a week is 168 rows).
with_history as (

    select
        *,
        lag(metric_value, 168) over same_window as week_1,
        lag(metric_value, 336) over same_window as week_2,
        lag(metric_value, 504) over same_window as week_3,
        lag(metric_value, 672) over same_window as week_4,
        -- the four weeks before the window, pooled (a heads share's usual rate)
        num_before - coalesce(lag(num_before, 672) over same_window, 0) as pooled_num,
        den_before - coalesce(lag(den_before, 672) over same_window, 0) as pooled_den

    from windows
    window same_window as (partition by kind, metric, window_hours order by window_end)

),

-- A heads share's expected count.
expected_heads as (

    select
        *,
        case
            when shape = 'drop heads' and pooled_den > 0
                then x_den * cast(pooled_num as double precision) / pooled_den
        end as count_expected
    from with_history
    {% if since_sql -%}
    where window_end > (select bounds.rescored_after from bounds)
    {%- endif %}

),

-- The windows scored now and (incremental) a small count's stored before them: their misses.
scoring as (

    select
        *,
        false as was_kept
    from expected_heads
    {% if since_sql -%}
    union all
    select
        kept.kind,
        kept.metric,
        kept.shape,
        kept.window_hours,
        kept.x_num,
        null as x_den,
        null as window_start,
        kept.window_end,
        null as per_head,
        null as num_before,
        null as den_before,
        null as metric_value,
        null as week_1,
        null as week_2,
        null as week_3,
        null as week_4,
        null as pooled_num,
        null as pooled_den,
        kept.count_expected,
        true as was_kept
    from {{ this }} as kept
    cross join bounds
    where
        kept.shape = 'drop heads'
        and kept.window_end > bounds.read_from and kept.window_end <= bounds.rescored_after
    {%- endif %}

),

-- How much more than Poisson a small count strayed in the four weeks before the window (to a day
-- before; visitors come back): its quasi-Poisson dispersion. Numerics of a fixed scale summed
-- exactly; a moving frame, not a join (the series are dense).
dispersed as (

    select
        *,
        cast(
            sum(
                case when shape = 'drop heads' then round(cast(power(x_num - count_expected, 2) as numeric), 9) end
            ) over misses_before
            / nullif(
                sum(case when shape = 'drop heads' then round(cast(count_expected as numeric), 9) end)
                    over misses_before,
                0
            )
            as double precision
        ) as dispersion
    from scoring
    window
        misses_before as (
            partition by kind, metric, window_hours order by window_end
            rows between 672 preceding and 24 preceding
        )

),

judgeable as (

    select
        heads.*,
        num_nonnulls(heads.week_1, heads.week_2, heads.week_3, heads.week_4) as history_points,
        coalesce(
            heads.metric_value is not null
            and num_nonnulls(heads.week_1, heads.week_2, heads.week_3, heads.week_4) >= 3
            and (heads.shape <> 'drop heads' or heads.x_num < heads.count_expected),
            false
        ) as judged

    from dispersed as heads
    where
        not heads.was_kept
        -- (a full refresh read earlier ones for their misses)
        and heads.window_end > (select bounds.rescored_after from bounds)

),

-- (and a small count's other windows: later windows' misses)
judged_hours as (

    select * from judgeable
    where judged or shape = 'drop heads'

),

hourly_medians as (

    select
        *,
        {{ median_sql['median'] }} as median
    from judged_hours

),

-- the absolute deviations from the median, whose median is the MAD
hourly_deviations as (

    select
        *,
        abs(week_1 - median) as deviation_1,
        abs(week_2 - median) as deviation_2,
        abs(week_3 - median) as deviation_3,
        abs(week_4 - median) as deviation_4
    from hourly_medians

),

hourly_mads as (

    select
        *,
        {{ median_sql['mad'] }} as mad
    from hourly_deviations

),

hourly_scored as (

    select
        judged.kind,
        judged.metric,
        judged.shape,
        judged.window_hours,
        judged.window_start,
        judged.window_end,
        judged.x_num,
        judged.x_den,
        judged.metric_value,
        judged.median,
        judged.history_points,
        judged.per_head,
        judged.pooled_num,
        judged.pooled_den,
        judged.count_expected,
        judged.dispersion,
        judged.judged,
        case
            when not judged.judged then null
            -- heads against the count their usual share predicts: the signed root of the Poisson
            -- deviance (exact in small counts' tails: none where a dozen were due scores about -5)
            when judged.shape = 'drop heads'
                then
                    -sqrt(greatest(2 * (
                        case
                            when judged.x_num > 0 then judged.x_num * ln(judged.x_num / judged.count_expected)
                            else 0
                        end
                        - judged.x_num + judged.count_expected
                    ), 0) / greatest(coalesce(judged.dispersion, 1), 1))
            -- a count: at least the noise of visits of per_head events each
            when judged.shape = 'count'
                then
                    (judged.metric_value - judged.median)
                    / greatest(
                        1.4826 * judged.mad,
                        sqrt(judged.median * judged.per_head),
                        {{ relative_floor }} * judged.median,
                        1
                    )
            -- a share, as a count against the usual share's; a floor of a couple of rows (the median
            -- of small counts' shares understates their mean)
            when judged.shape like '%share'
                then
                    (judged.x_num - judged.x_den * judged.median)
                    / greatest(
                        1.4826 * judged.mad * judged.x_den,
                        sqrt(judged.x_den * judged.median),
                        {{ relative_floor }} * judged.x_den * judged.median,
                        2
                    )
            -- the heaviest viewer is heavy-tailed: the scale is at least the usual peak itself
            when judged.shape = 'peak'
                then
                    (judged.metric_value - judged.median)
                    / greatest(1.4826 * judged.mad, judged.median, 1)
            -- a ratio per head: sd / sqrt(x_den), a head's sd about twice the mean (long visits)
            else
                (judged.metric_value - judged.median)
                / greatest(
                    1.4826 * judged.mad,
                    2 * judged.median / sqrt(cast(greatest(judged.x_den, 1) as numeric)),
                    {{ relative_floor }} * judged.median,
                    1e-9
                )
        end as score

    from hourly_mads as judged

),

daily_prices as (

    select
        prices.event_date,
        -- (exact: a float sum depends on the rows' order; a row stored before the decimal was kept
        -- is cast here)
        cast(avg(coalesce(prices.mean_price_digits, cast(prices.mean_price as numeric))) as double precision)
            as average_price,
        sum(prices.priced_events) as priced_events
    from {{ ref('monitoring_product_prices_daily') }} as prices
    cross join bounds
    where prices.event_date >= cast(bounds.read_from as date)
    group by prices.event_date

),

-- The main KPIs per day (the average price: the mean of the day's products' mean prices).
days as (

    select
        sales.activity_date as kpi_day,
        cast(sales.revenue as double precision) as revenue,
        prices.average_price,
        sales.sessions,
        sales.views,
        sales.orders,
        sales.converting_sessions,
        sales.add_to_carts,
        prices.priced_events,
        sales.max_loaded_at,
        cast(sales.converting_sessions as double precision) / nullif(sales.sessions, 0) as conversion_rate,
        cast(sales.add_to_carts as double precision) / nullif(sales.views, 0) as cart_rate

    from {{ ref('sales_summary') }} as sales
    cross join bounds
    left join daily_prices as prices
        on sales.activity_date = prices.event_date
    where
        sales.activity_date + 1 <= cast(bounds.now_hour as date)
        and sales.activity_date >= cast(bounds.read_from as date)

),

-- direction: -1 only drops alert, 1 only rises, 0 both. trials: a rate's binomial spread (0: the
-- relative floor only). stop_count: the events behind the value, for the stop rule.
kpis as (

    select
        kpi_day,
        'revenue' as metric,
        -1 as direction,
        revenue as metric_value,
        0.0 as trials,
        orders as stop_count,
        max_loaded_at
    from days
    union all
    select
        kpi_day,
        'conversion (sessions with an order)' as metric,
        0 as direction,
        conversion_rate as metric_value,
        cast(sessions as double precision) as trials,
        converting_sessions as stop_count,
        max_loaded_at
    from days
    union all
    select
        kpi_day,
        'cart rate (carts per view)' as metric,
        0 as direction,
        cart_rate as metric_value,
        cast(views as double precision) as trials,
        add_to_carts as stop_count,
        max_loaded_at
    from days
    union all
    select
        kpi_day,
        'average price (per product)' as metric,
        0 as direction,
        average_price as metric_value,
        0.0 as trials,
        priced_events as stop_count,
        max_loaded_at
    from days

),

judged_days as (

    select kpis.*
    from kpis cross join bounds
    where
        kpis.metric_value is not null
        and cast(kpis.kpi_day + 1 as {{ type_timestamp_tz() }}) > bounds.rescored_after

),

daily_history as (

    select
        judged.metric,
        judged.kpi_day,
        past.metric_value,
        past.stop_count
    from judged_days as judged
    inner join kpis as past
        on
            judged.metric = past.metric
            and past.kpi_day between judged.kpi_day - 28 and judged.kpi_day - 1
    where past.metric_value is not null

),

daily_medians as (

    select
        metric,
        kpi_day,
        percentile_cont(0.5) within group (order by metric_value) as median,
        percentile_cont(0.5) within group (order by stop_count) as median_stop_count,
        count(*) as history_points
    from daily_history
    group by metric, kpi_day
    having count(*) >= 14

),

daily_mads as (

    select
        history.metric,
        history.kpi_day,
        percentile_cont(0.5) within group (order by abs(history.metric_value - medians.median)) as mad
    from daily_history as history
    inner join daily_medians as medians
        on history.metric = medians.metric and history.kpi_day = medians.kpi_day
    group by history.metric, history.kpi_day

),

daily_scored as (

    select
        judged.metric,
        judged.direction,
        judged.kpi_day,
        judged.metric_value,
        judged.stop_count,
        medians.median,
        medians.median_stop_count,
        medians.history_points,
        judged.max_loaded_at,
        (judged.metric_value - medians.median)
        / greatest(
            1.4826 * mads.mad,
            case
                when judged.trials > 0 then sqrt(medians.median * (1 - medians.median) / judged.trials)
                else 0
            end,
            {{ relative_floor }} * abs(medians.median),
            1e-9
        ) as score

    from judged_days as judged
    inner join daily_medians as medians
        on judged.metric = medians.metric and judged.kpi_day = medians.kpi_day
    inner join daily_mads as mads
        on judged.metric = mads.metric and judged.kpi_day = mads.kpi_day

),

-- the newest load of a window's last hour (a KPI's day): the next run's watermark
hour_loads as (

    select
        event_hour,
        max(max_loaded_at) as max_loaded_at
    from events
    group by event_hour

),

scored as (

    select
        kind,
        metric,
        shape,
        window_hours,
        window_start,
        window_end,
        x_num,
        x_den,
        metric_value,
        median,
        history_points,
        per_head,
        pooled_num,
        pooled_den,
        count_expected,
        dispersion,
        cast(null as integer) as direction,
        cast(null as bigint) as stop_count,
        cast(null as double precision) as median_stop_count,
        score,
        cast(null as {{ type_timestamp_tz() }}) as max_loaded_at,
        judged
    from hourly_scored

    union all

    select
        'metric' as kind,
        metric,
        'daily' as shape,
        24 as window_hours,
        cast(kpi_day as {{ type_timestamp_tz() }}) as window_start,
        cast(kpi_day + 1 as {{ type_timestamp_tz() }}) as window_end,
        null as x_num,
        null as x_den,
        metric_value,
        median,
        history_points,
        null as per_head,
        null as pooled_num,
        null as pooled_den,
        null as count_expected,
        null as dispersion,
        direction,
        stop_count,
        median_stop_count,
        score,
        max_loaded_at,
        true as judged
    from daily_scored

),

final as (

    select
        scored.kind,
        scored.metric,
        scored.shape,
        scored.window_hours,
        scored.window_start,
        scored.window_end,
        scored.x_num,
        scored.x_den,
        scored.metric_value,
        cast(scored.median as double precision) as median,
        scored.history_points,
        scored.per_head,
        scored.pooled_num,
        scored.pooled_den,
        scored.count_expected,
        scored.dispersion,
        scored.direction,
        scored.stop_count,
        scored.median_stop_count,
        cast(scored.score as double precision) as score,
        coalesce(scored.max_loaded_at, hour_loads.max_loaded_at) as max_loaded_at,
        (select max(built.category_fingerprint) from {{ ref('monitoring_category_hourly') }} as built)
            as category_fingerprint,
        '{{ scored_with }}' as scored_with,
        scored.judged

    from scored
    left join hour_loads
        on scored.window_end - interval '1 hour' = hour_loads.event_hour

)

select * from final
