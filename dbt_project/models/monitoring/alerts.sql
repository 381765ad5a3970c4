{#
    The anomaly checks' findings: one row per alert (a kind, a metric, a window, its robust score
    and a sentence of evidence). Every check compares a value with its own history through the
    median and the median absolute deviation (MAD) of that history, so one odd past week or day
    does not move the baseline:

        score = (observed - median) / scale,  scale = max(1.4826 x MAD, noise floor, relative floor x median)

    The noise floor is what chance alone gives on a small count (Poisson, binomial; visits bring
    events in clusters); the relative floor keeps a very regular history from turning an ordinary
    swing into an alert. A stop also alerts whatever the score: none of what comes by the dozen
    (`alert_min_expected`). Hourly series (events per type, duplicates, late arrivals, views per
    viewer, the heaviest viewer's views, arrivals per source) are judged over windows of 1, 6 and 24 hours against the same
    window 1-4 weeks earlier (same hour, same weekday); daily KPIs against the previous four weeks.
    Small counts, where four past windows are mostly chance (a category's visitors, the buyers per
    carting visitor), are judged as counts instead: heads against their share of a reference pooled
    over the four weeks before, by a Poisson count score, in windows of 5, 6 and 24 hours. Overlapping
    flagged windows of one metric merge into one alert. The hour (and day) still filling is not
    judged.

    A table rebuilt every run from the small hourly aggregates, over the last `alert_evaluation_days`
    days (plus the four weeks their baselines read): bounded whatever the history's length.
    PostgreSQL only (ordered-set aggregates, generate_series): a warehouse on Spark is a parity
    check of the models; the shop's monitoring runs where the dashboard reads.
#}
{{ config(materialized='table') }}

{#- percentile_cont(0.5) of four values of which at most one is null, bit for bit as PostgreSQL
    computes it (the lower middle value plus half the gap to the upper one; of three, the middle):
    an expression, not an aggregate over an array per window row. -#}
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

{%- set threshold = var('alert_score_threshold') -%}
{%- set relative_floor = var('alert_relative_floor') -%}
{%- set min_expected = var('alert_min_expected') -%}
{%- set count_threshold = var('alert_count_threshold') -%}
{%- set evaluation_days = var('alert_evaluation_days') -%}

with

hourly as (

    select * from {{ ref('monitoring_events_hourly') }}

),

loads as (

    select * from {{ ref('monitoring_loads_hourly') }}

),

-- The hour still filling: the newest hour that holds an event or an arrival. Judged are the hours
-- before it, and the days that end at or before it.
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

bounds as (

    select
        now_hour,
        now_hour - interval '1 day' * {{ evaluation_days }} as evaluate_from,
        now_hour - interval '1 day' * ({{ evaluation_days }} + 30) as read_from

    from clock

),

events as (

    select hourly.*
    from {{ ref('monitoring_events_hourly') }} as hourly
    cross join bounds
    where hourly.event_hour >= bounds.read_from and hourly.event_hour < bounds.now_hour

),

categories as (

    select hourly.*
    from {{ ref('monitoring_category_hourly') }} as hourly
    cross join bounds
    where hourly.event_hour >= bounds.read_from and hourly.event_hour < bounds.now_hour

),

category_names as (

    select distinct category from categories

),

category_totals as (

    select
        event_hour,
        sum(distinct_users) as distinct_users
    from categories
    group by event_hour

),

-- Every hourly series the checks judge: `num` (and `den`, for shares and ratios) per hour.
-- shape: count (an alert when it drops; den: the heads behind it, whose clustering widens its
-- noise), rising share (num out of den: an alert when it rises), drop heads (distinct users an hour
-- out of a reference's: an alert when they stop against the usual pooled share), ratio (num per
-- den: an alert when it rises).
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

    -- one category's visitors out of every category's (its usual share of the shop's traffic); an
    -- hour without its events still has the others' visitors
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

    -- checkout: buyers out of visitors who cart (views and carts go on when the checkout breaks)
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

    -- a bot is one user with thousands of views: the hour's heaviest viewer, summed over a window
    -- (whatever the length of ordinary visits, which moves views per viewer)
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
    where loads.loaded_hour >= bounds.read_from and loads.loaded_hour < bounds.now_hour

),

series as (

    select
        kind,
        metric,
        shape,
        min(hour_start) as first_hour
    from series_hours
    group by kind, metric, shape

),

-- Hours without a row are zeros (no event, no arrival): the spine makes them count. (A union and
-- a group by, not a join: the planner cannot estimate a join on the unions above.)
spine as (

    select
        series.kind,
        series.metric,
        series.shape,
        hours.hour_start
    from series
    cross join bounds
    cross join lateral generate_series(series.first_hour, bounds.now_hour - interval '1 hour', interval '1 hour')
        as hours (hour_start)

),

dense as (

    select
        padded.kind,
        padded.metric,
        padded.shape,
        series.first_hour,
        padded.hour_start,
        -- counts of an hour: integers, so that the sums over windows stay bigint (not numeric)
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
        -- running totals: any earlier span's sums are a difference of two of them
        sum(num) over since_first as num_so_far,
        sum(den) over since_first as den_so_far,
        -- events per head over the past week: a count of events that come in visits varies by
        -- about sqrt(median x that) (a compound Poisson), not sqrt(median)
        cast(sum(num) over past_week as double precision) / nullif(sum(den) over past_week, 0) as per_head

    from dense
    window
        five_hours as (partition by kind, metric order by hour_start rows between 4 preceding and current row),
        six_hours as (partition by kind, metric order by hour_start rows between 5 preceding and current row),
        one_day as (partition by kind, metric order by hour_start rows between 23 preceding and current row),
        past_week as (partition by kind, metric order by hour_start rows between 167 preceding and current row),
        since_first as (partition by kind, metric order by hour_start rows unbounded preceding)

),

-- One row per series, window length and window end hour; only windows that lie wholly inside the
-- series' history.
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
        -- five hours: the whole hours inside a six-hour stop that began within an hour (heads only)
        and (sizes.window_hours <> 5 or rolled.shape = 'drop heads')
        -- one hour: only counts and shares flag a single hour (hourly_flagged); each length is
        -- judged apart from the others, so the windows no check flags are not built
        and (sizes.window_hours <> 1 or rolled.shape in ('count', 'rising share'))

),

-- The same window 1 to 4 weeks earlier: the spine is dense and hourly, so a week is 168 rows.
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

-- A heads share's expected count, and how much more than Poisson its windows have strayed from
-- theirs over the four weeks before (visitors come back, a few products carry a small category): the
-- quasi-Poisson dispersion that widens its score.
expected_heads as (

    select
        *,
        case
            when shape = 'drop heads' and pooled_den > 0
                then x_den * cast(pooled_num as double precision) / pooled_den
        end as count_expected
    from with_history

),

-- (running totals and their differences: a moving frame of floats is summed anew on every row)
running_misses as (

    select
        *,
        sum(power(x_num - count_expected, 2)) over so_far as squared_misses_so_far,
        sum(count_expected) over so_far as expected_so_far
    from expected_heads
    window so_far as (partition by kind, metric, window_hours order by window_end rows unbounded preceding)

),

dispersed as (

    select
        *,
        (
            lag(squared_misses_so_far, 24) over same_window
            - coalesce(lag(squared_misses_so_far, 673) over same_window, 0)
        )
        / nullif(lag(expected_so_far, 24) over same_window - coalesce(lag(expected_so_far, 673) over same_window, 0), 0)
            as dispersion
    from running_misses
    window same_window as (partition by kind, metric, window_hours order by window_end)

),

judged_hours as (

    select
        history.*,
        num_nonnulls(history.week_1, history.week_2, history.week_3, history.week_4) as history_points

    from dispersed as history
    -- (a scalar, not a join: the planner then tests it before the scores the flags below need)
    where
        history.window_end > (select bounds.evaluate_from from bounds) and history.metric_value is not null
        and num_nonnulls(history.week_1, history.week_2, history.week_3, history.week_4) >= 3
        and (history.shape <> 'drop heads' or history.x_num < history.count_expected)

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
        case
            -- heads (distinct users an hour) against the count their usual share of the reference
            -- heads predicts: the signed root of the Poisson deviance, a z-score that stays exact in
            -- the tails of small counts (none where a dozen were due scores about -5)
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
            -- a share, judged as a count against the count the usual share predicts; the median of
            -- a few small counts' shares understates their mean, hence a floor of a couple of rows
            when judged.shape like '%share'
                then
                    (judged.x_num - judged.x_den * judged.median)
                    / greatest(
                        1.4826 * judged.mad * judged.x_den,
                        sqrt(judged.x_den * judged.median),
                        {{ relative_floor }} * judged.x_den * judged.median,
                        2
                    )
            -- the heaviest viewer: one heavy user is heavy-tailed, so the scale is at least the usual
            -- peak itself (an alert needs a peak of several times the usual one)
            when judged.shape = 'peak'
                then
                    (judged.metric_value - judged.median)
                    / greatest(1.4826 * judged.mad, judged.median, 1)
            -- a ratio per head: a mean over x_den heads varies as sd / sqrt(x_den), and visits are
            -- long-tailed (a head's sd is about twice the mean)
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

hourly_flagged as (

    select
        kind,
        metric,
        window_hours,
        window_start,
        window_end,
        score,
        metric_value as observed,
        case
            when shape = 'drop heads' then count_expected
            when shape like '%share' then x_den * median
            else median
        end as expected,
        case when shape like '%share' or shape = 'drop heads' then x_num else metric_value end as observed_count,
        metric || ': '
        || case
            when shape = 'count' then cast(x_num as text)
            when shape like '%share' then x_num || ' of ' || x_den || ' events'
            when shape = 'drop heads' then x_num || ' of ' || x_den || ' visitors'
            else to_char(metric_value, 'FM999990.0')
        end
        || ' in the ' || window_hours || ' h from ' || to_char(window_start, 'YYYY-MM-DD HH24:00')
        || ' UTC, against '
        || case
            when shape = 'drop heads'
                then
                    to_char(count_expected, 'FM999999990.0') || ' expected at its share of the four weeks before ('
                    || to_char(100.0 * pooled_num / pooled_den, 'FM990.00') || ' %, count score '
            when shape = 'count' then 'a median of ' || to_char(median, 'FM999999990')
            when shape like '%share' then 'a usual share of ' || to_char(100 * median, 'FM990.00') || ' %'
            else 'a median of ' || to_char(median, 'FM999990.0')
        end
        || case
            when shape = 'drop heads' then ''
            else ' in the same hours of ' || history_points || ' previous weeks (robust score '
        end
        || to_char(score, 'FM999990.0') || ')' as evidence

    from hourly_scored
    where
        (shape = 'count' and score <= -{{ threshold }} and median >= {{ min_expected }})
        -- the stop rule: nothing where dozens were due (chance gives that about exp(-dozens))
        or (shape = 'count' and x_num = 0 and median / per_head >= {{ min_expected }})
        or (shape = 'rising share' and score >= {{ threshold }})
        -- heads: a stop (at most a small share of the expected heads) whose count score passes the
        -- threshold; the category check judges one series per category, so it needs ln(categories)
        -- more log-likelihood (Bonferroni: as many chance alerts as one series). An hour is judged
        -- within the windows of 5 hours and more that hold it.
        or (
            shape = 'drop heads' and window_hours >= 5
            and (
                case
                    when metric like 'visitors in category:%'
                        then
                            x_num <= {{ var('alert_category_stop_share') }} * count_expected
                            and score * score >= {{ count_threshold }} * {{ count_threshold }}
                            + 2 * ln((select count(*) from category_names))
                    else
                        x_num <= {{ var('alert_checkout_stop_share') }} * count_expected
                        and score <= -{{ count_threshold }}
                end
            )
        )
        -- per head: over 6 hours and more (one heavy visitor makes a quiet hour's mean)
        or (shape = 'ratio' and score >= {{ threshold }} and x_den >= {{ min_expected }} and window_hours >= 6)
        or (shape = 'peak' and score >= {{ threshold }} and window_hours >= 6)

),

daily_prices as (

    select
        prices.event_date,
        avg(prices.mean_price) as average_price,
        sum(prices.priced_events) as priced_events
    from {{ ref('monitoring_product_prices_daily') }} as prices
    cross join bounds
    where prices.event_date >= cast(bounds.read_from as date)
    group by prices.event_date

),

-- The main KPIs per day (sales_summary; the average price: the mean of the day's products' mean prices).
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
        cast(sales.converting_sessions as double precision) / nullif(sales.sessions, 0) as conversion_rate,
        cast(sales.add_to_carts as double precision) / nullif(sales.views, 0) as cart_rate

    from {{ ref('sales_summary') }} as sales
    cross join bounds
    left join daily_prices as prices
        on sales.activity_date = prices.event_date
    where
        sales.activity_date >= cast(bounds.read_from as date)
        and sales.activity_date + 1 <= cast(bounds.now_hour as date)

),

-- direction: -1 only drops alert, 1 only rises, 0 both. trials: the chance spread of a rate over
-- n trials (binomial), 0 where the relative floor is the only floor. stop_count: the events
-- behind the value (orders, converting sessions, carts, priced events), for the stop rule.
kpis as (

    select
        kpi_day,
        'revenue' as metric,
        -1 as direction,
        revenue as metric_value,
        0.0 as trials,
        orders as stop_count
    from days
    union all
    select
        kpi_day,
        'conversion (sessions with an order)' as metric,
        0 as direction,
        conversion_rate as metric_value,
        cast(sessions as double precision) as trials,
        converting_sessions as stop_count
    from days
    union all
    select
        kpi_day,
        'cart rate (carts per view)' as metric,
        0 as direction,
        cart_rate as metric_value,
        cast(views as double precision) as trials,
        add_to_carts as stop_count
    from days
    union all
    select
        kpi_day,
        'average price (per product)' as metric,
        0 as direction,
        average_price as metric_value,
        0.0 as trials,
        priced_events as stop_count
    from days

),

judged_days as (

    select kpis.*
    from kpis cross join bounds
    where kpis.kpi_day + 1 > bounds.evaluate_from and kpis.metric_value is not null

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

daily_flagged as (

    select
        'metric' as kind,
        metric,
        24 as window_hours,
        cast(kpi_day as timestamp with time zone) as window_start,
        cast(kpi_day + 1 as timestamp with time zone) as window_end,
        score,
        metric_value as observed,
        median as expected,
        metric_value as observed_count,
        metric || ': ' || to_char(metric_value, 'FM999999990.0999') || ' on ' || to_char(kpi_day, 'YYYY-MM-DD')
        || ', against a median of ' || to_char(median, 'FM999999990.0999') || ' over the previous '
        || history_points || ' days (robust score ' || to_char(score, 'FM999990.0') || ')' as evidence

    from daily_scored
    where
        (direction <= 0 and score <= -{{ threshold }})
        or (direction >= 0 and score >= {{ threshold }})
        -- the stop rule: none of what usually comes by the dozen
        or (direction <= 0 and stop_count = 0 and median_stop_count >= {{ min_expected }})

),

flagged as (

    select * from hourly_flagged
    union all
    select * from daily_flagged

),

-- Overlapping or touching windows of one metric are one alert: a new alert starts where a window
-- begins after every earlier window has ended.
ordered as (

    select
        *,
        max(window_end) over (
            partition by kind, metric order by window_start, window_end
            rows between unbounded preceding and 1 preceding
        ) as earlier_end

    from flagged

),

numbered as (

    select
        *,
        sum(case when earlier_end is null or window_start > earlier_end then 1 else 0 end) over (
            partition by kind, metric order by window_start, window_end rows unbounded preceding
        ) as episode

    from ordered

),

-- An alert spans the flagged windows of the length that scored strongest (so a 6-hour outage spans
-- about its hours, not the day-long windows around it); it was detected when its first flagged
-- window closed.
sized as (

    select
        *,
        first_value(window_hours) over (
            partition by kind, metric, episode order by abs(score) desc, window_hours
        ) as strongest_hours

    from numbered

),

episodes as (

    select
        *,
        min(window_start) filter (where window_hours = strongest_hours) over episode_rows as alert_start,
        max(window_end) filter (where window_hours = strongest_hours) over episode_rows as alert_end,
        min(window_end) over episode_rows as detected_at,
        row_number() over (partition by kind, metric, episode order by abs(score) desc, window_start) as strongest

    from sized
    window episode_rows as (partition by kind, metric, episode)

),

final as (

    select
        md5(episodes.kind || '|' || episodes.metric || '|' || cast(episodes.alert_start as text)) as alert_id,
        cast(episodes.kind as text) as kind,
        cast(episodes.metric as text) as metric,
        episodes.alert_start as window_start,
        episodes.alert_end as window_end,
        episodes.detected_at,
        cast(round(cast(episodes.score as numeric), 2) as numeric(12, 2)) as score,
        cast(episodes.observed as double precision) as observed,
        cast(episodes.expected as double precision) as expected,
        cast(episodes.evidence as text) as evidence,
        episodes.alert_end > bounds.now_hour - interval '1 day' * {{ var("alert_open_days") }} as is_open,
        bounds.now_hour as judged_until

    from episodes cross join bounds
    where episodes.strongest = 1

)

select * from final
