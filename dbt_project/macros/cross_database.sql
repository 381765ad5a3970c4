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
#}
{% macro analyze_if_new() -%}
    {{ return(adapter.dispatch('analyze_if_new')()) }}
{%- endmacro %}

{% macro default__analyze_if_new() -%}
{%- endmacro %}

{% macro postgres__analyze_if_new() -%}
    {%- if execute and config.get('materialized') != 'view' -%}
        {%- set query -%}
            select count(*) from pg_catalog.pg_statistic
            where starelid = cast('{{ this }}' as regclass)
        {%- endset -%}
        {%- set columns = config.get('meta', {}).get('analyze_columns') -%}
        {%- if run_query(query).columns[0].values()[0] == 0 -%}
            analyze {{ this }}{% if columns %} ({{ _columns_of(none, columns) }}){% endif %}
        {%- endif -%}
    {%- endif -%}
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
