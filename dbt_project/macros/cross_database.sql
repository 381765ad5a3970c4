{#
    Small portable helpers. dbt's own cross-database macros (dbt.dateadd, dbt.type_*, dbt.replace,
    ...) are used everywhere else; these fill the few gaps, with per-adapter versions via dispatch.
#}

{# A timestamp type that keeps the time zone: `timestamptz` on PostgreSQL, `timestamp` elsewhere. #}
{% macro type_timestamp_tz() -%}
    {{ return(adapter.dispatch('type_timestamp_tz')()) }}
{%- endmacro %}

{% macro default__type_timestamp_tz() -%}
    timestamp
{%- endmacro %}

{% macro postgres__type_timestamp_tz() -%}
    timestamp with time zone
{%- endmacro %}

{#
    The UTC calendar day of a timestamp. On PostgreSQL spelled exactly as the expression index on
    raw.interactions (migration 0006), so that day filters can use it whatever the session's time
    zone; Spark's sessions run in UTC (profiles.example.yml).
#}
{% macro utc_date(column) -%}
    {{ return(adapter.dispatch('utc_date')(column)) }}
{%- endmacro %}

{% macro default__utc_date(column) -%}
    cast({{ column }} as date)
{%- endmacro %}

{% macro postgres__utc_date(column) -%}
    cast({{ column }} at time zone 'UTC' as date)
{%- endmacro %}

{# num / den as an exact decimal rounded to 4 places; null when the denominator is 0 or null. #}
{% macro safe_ratio(numerator, denominator) -%}
    cast(
        round(cast({{ numerator }} as {{ dbt.type_numeric() }}) / nullif({{ denominator }}, 0), 4)
        as numeric(10, 4)
    )
{%- endmacro %}

{# Whether an array column holds a value: `value = any(array)` on PostgreSQL, array_contains elsewhere. #}
{% macro array_contains(array, value) -%}
    {{ return(adapter.dispatch('array_contains')(array, value)) }}
{%- endmacro %}

{% macro default__array_contains(array, value) -%}
    array_contains({{ array }}, {{ value }})
{%- endmacro %}

{% macro postgres__array_contains(array, value) -%}
    {{ value }} = any({{ array }})
{%- endmacro %}

{# Money, exactly: numeric(18, 2). #}
{% macro to_money(expression) -%}
    cast({{ expression }} as numeric(18, 2))
{%- endmacro %}

{# 1 when the condition holds, else 0: counts by summing (portable, unlike sum(bool) or filter). #}
{% macro flag(condition) -%}
    case when {{ condition }} then 1 else 0 end
{%- endmacro %}

{#
    Post-hook of the large models: give a freshly created table its planner statistics at once
    (PostgreSQL's autovacuum would do it only later), so the tests and the models downstream are
    planned on real numbers. Tables that already have statistics are left to autovacuum; views
    (which have no statistics of their own) are skipped. A model rebuilt whole every run may list
    the columns its readers filter, join, group or sort on in `meta.analyze_columns`: only those
    are analyzed (statistics of every column cost time in every build, on the critical path).

    An incremental table read by day may name, in `meta.analyze_new_days`, its day column and the
    columns to analyze when the table holds a day beyond what the statistics know (an appended day,
    a backfilled one). Autovacuum analyzes only after a tenth of the table changed, so a day's
    appended events stay unknown to the planner for days: it then expects one row of that day and
    one newly loaded row, and the touched-key look-ups downstream become nested loops that read the
    whole day once per row of it (quadratic: an appended day of a large shop ran for many minutes).
    The check reads the day column's two ends through its index, so it costs little in every build;
    the analyze runs once per new day, on a small sample (var `new_day_statistics_target`): it
    only has to tell the planner the day is as large as the others, and a sample of the default
    size reads most of the table's pages on the critical path. Autovacuum's next analyze, at the
    default target, replaces these statistics.
    An analyze waits for an autovacuum of the same table (the first vacuum of a table a full build
    or a large load just wrote can run for minutes), and PostgreSQL cancels that autovacuum for the
    waiting analyze only after `deadlock_timeout`, a second by default, all of it on the build's
    critical path; it is cancelled either way, so the analyze asks sooner where the role may set
    that (a superuser: the embedded server's). Autovacuum comes back to the table, skipping the
    pages it had done.
#}
{% macro analyze_if_new() -%}
    {{ return(adapter.dispatch('analyze_if_new')()) }}
{%- endmacro %}

{% macro default__analyze_if_new() -%}
{%- endmacro %}

{% macro postgres__analyze_if_new() -%}
    {%- if execute and config.get('materialized') != 'view' -%}
        {%- set meta = config.get('meta', {}) -%}
        {%- set columns = meta.get('analyze_columns') -%}
        {%- set new_days = meta.get('analyze_new_days') -%}
        {%- set query -%}
            select
                (select count(*) from pg_catalog.pg_statistic
                 where starelid = cast('{{ this }}' as regclass)) = 0 as without_statistics,
                {% if new_days -%}
                    {{ _days_beyond_statistics(new_days['day_column']) }}
                {%- else -%}
                    false
                {%- endif %} as days_beyond_statistics,
                current_setting('is_superuser') = 'on' as may_hurry_autovacuum
        {%- endset -%}
        {%- set state = run_query(query).rows[0] -%}
        {%- if state[2] and (state[0] or state[1]) -%}
            set local deadlock_timeout = '20ms';
        {% endif -%}
        {%- if state[0] -%}
            analyze {{ this }}{% if columns %} ({{ _columns_of(none, columns) }}){% endif %}
        {%- elif state[1] -%}
            set local default_statistics_target = {{ var('new_day_statistics_target') | int }};
            analyze {{ this }} ({{ _columns_of(none, new_days['columns']) }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{# True when `this` holds a value of the date column `column` outside the range its statistics know. #}
{% macro _days_beyond_statistics(column) -%}
    coalesce((
        select
            (select max({{ adapter.quote(column) }}) from {{ this }}) > coalesce(max(known.day), '-infinity')
            or (select min({{ adapter.quote(column) }}) from {{ this }}) < coalesce(min(known.day), 'infinity')
        from pg_catalog.pg_stats as stats
        cross join lateral unnest(
            coalesce(cast(cast(stats.most_common_vals as text) as date[]), cast('{}' as date[]))
            || coalesce(cast(cast(stats.histogram_bounds as text) as date[]), cast('{}' as date[]))
        ) as known (day)
        where
            stats.schemaname = '{{ this.schema }}'
            and stats.tablename = '{{ this.identifier }}'
            and stats.attname = '{{ column }}'
            and not stats.inherited
    ), false)
{%- endmacro %}

{#- Values as a list of SQL literals: numbers as they are, strings quoted (a quote doubled). -#}
{% macro sql_literals(values) -%}
    {%- for value in values -%}
        {%- if value is number -%}
            {{ value }}
        {%- else -%}
            '{{ value | string | replace("'", "''") }}'
        {%- endif -%}
        {{- ", " if not loop.last -}}
    {%- endfor -%}
{%- endmacro %}

{#
    Post-hook of int_interactions_enriched: an index of its recommended events only, by load time.
    Every incremental build of the two recommendation marts looks for recommended events loaded
    after their watermark; a shop that serves no recommendations leaves them empty, their watermark
    is the floor, and without it each look read every event. Run outside the transaction, after a
    full refresh has dropped the table it replaced (whose index has the same name).
#}
{% macro recommended_events_index() -%}
    {{ return(adapter.dispatch('recommended_events_index')()) }}
{%- endmacro %}

{% macro default__recommended_events_index() -%}
{%- endmacro %}

{% macro postgres__recommended_events_index() -%}
    create index if not exists {{ this.identifier }}_recommended_loaded_idx
    on {{ this }} (last_loaded_at) where is_recommended = 1
{%- endmacro %}

{#
    Post-hook of int_interactions_enriched: its index by order, of the events with an order only.
    The orders' models look touched orders up by order_id (never a null one), and only purchases
    carry one: an index of every event filed each new view and cart under null, most of the rows
    a merge inserts. The plain order_id index an older build made is dropped by `retired_indexes`,
    a hook before this one. Run outside the transaction, as recommended_events_index.
#}
{% macro order_events_index() -%}
    {{ return(adapter.dispatch('order_events_index')()) }}
{%- endmacro %}

{% macro default__order_events_index() -%}
{%- endmacro %}

{% macro postgres__order_events_index() -%}
    create index if not exists {{ this.identifier }}_order_idx
    on {{ this }} (order_id) where order_id is not null
{%- endmacro %}

{#
    Post-hook: drops the indexes of `this` that the model no longer declares, each given by its
    columns in index order (`column_lists`, a list of lists of names). A warehouse built before
    keeps such an index until its next full refresh, and every incremental run pays its inserts.
    They are found in the catalogue by their columns: dbt names an index by a hash of its columns
    and of the time it was made, so no name can be guessed. Only plain indexes (no condition, no
    expression, not a constraint's) whose columns are exactly a retired list: the model's partial
    and current indexes stay. One catalogue query; a drop only for what it finds. Run outside the
    transaction, after a full refresh has replaced the table (which then has none of them).
#}
{% macro retired_indexes(column_lists) -%}
    {{ return(adapter.dispatch('retired_indexes')(column_lists)) }}
{%- endmacro %}

{% macro default__retired_indexes(column_lists) -%}
{%- endmacro %}

{% macro postgres__retired_indexes(column_lists) -%}
    {%- if execute and column_lists -%}
        {%- set query -%}
            select cast(cast(index_entry.indexrelid as regclass) as text)
            from pg_catalog.pg_index as index_entry
            where
                index_entry.indrelid = cast('{{ this }}' as regclass)
                and index_entry.indpred is null
                and index_entry.indexprs is null
                and not exists (
                    select 1 from pg_catalog.pg_constraint as constraint_entry
                    where constraint_entry.conindid = index_entry.indexrelid
                )
                and array(
                    select cast(indexed.attname as text)
                    from unnest(cast(index_entry.indkey as smallint[])) with ordinality as index_key (attnum, position)
                    inner join pg_catalog.pg_attribute as indexed
                        on
                            indexed.attrelid = index_entry.indrelid
                            and indexed.attnum = index_key.attnum
                    order by index_key.position
                ) in (
                    {%- for columns in column_lists %}
                    array[{{ sql_literals(columns) }}]{{ "," if not loop.last }}
                    {%- endfor %}
                )
        {%- endset -%}
        {%- for name in run_query(query).columns[0].values() %}
    drop index if exists {{ name }};
        {%- endfor %}
    {%- endif %}
{%- endmacro %}

{#
    One row per day from `start_date` up to, not including, `end_date` (date literals), in a column
    `date_day`: what dbt.date_spine('day', ...) yields. On PostgreSQL from generate_series: the
    portable spine cross-joins powers of two and filters the product, which made the spine's own
    test (run in every build) and every MetricFlow query joined to it several times dearer.
#}
{% macro day_spine(start_date, end_date) -%}
    {{ return(adapter.dispatch('day_spine')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__day_spine(start_date, end_date) -%}
    {{ dbt.date_spine('day', start_date, end_date) }}
{%- endmacro %}

{% macro postgres__day_spine(start_date, end_date) -%}
    {#- timestamps without a time zone: the days do not depend on the session's #}
    select cast(spine_day as date) as date_day
    from generate_series(
        cast({{ start_date }} as timestamp),
        cast({{ end_date }} as timestamp) - interval '1 day',
        interval '1 day'
    ) as spine_day
{%- endmacro %}
