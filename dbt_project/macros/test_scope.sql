{#
    Tests on the large tables may look at recently loaded rows only, except under --full-refresh
    (or --vars 'test_all_rows: true'), which checks every row. A test opts in with one of
        config:
          where: "__recently_loaded__(last_loaded_at)"   # rows within test_recent_days of max(column)
          where: "__recent_event_days__(occurred_date)"  # days within test_recent_days of the newest raw load
    The second form is for the staging view: the filter on its day column reaches through the
    view's de-duplication down to the raw scan. Singular tests call the same macros directly.
#}

{% macro test_scope_is_full() -%}
    {{ return(flags.FULL_REFRESH or (var('test_all_rows', false) | string | lower in ['true', '1'])) }}
{%- endmacro %}

{% macro _scalar_literal(query, type) -%}
    {%- if execute -%}
        {%- set value = run_query(query).columns[0].values()[0] -%}
        {%- if value is none -%}
            cast(null as {{ type }})
        {%- else -%}
            cast('{{ value }}' as {{ type }})
        {%- endif -%}
    {%- else -%}
        cast(null as {{ type }})
    {%- endif -%}
{%- endmacro %}

{# `column >= (newest value of column - test_recent_days days)`, or `1 = 1` when testing all rows. #}
{% macro recently_loaded_filter(column, relation) -%}
    {%- if test_scope_is_full() -%}
        1 = 1
    {%- else -%}
        {%- set query -%}
            select cast({{ dbt.dateadd('day', -(var('test_recent_days', 3) | int), 'max(' ~ column ~ ')') }}
                as {{ dbt.type_string() }})
            from {{ relation }}
        {%- endset -%}
        {{ column }} >= {{ _scalar_literal(query, type_timestamp_tz()) }}
    {%- endif -%}
{%- endmacro %}

{# `day_column >= (date of the newest raw load - test_recent_days)`, or `1 = 1` when testing all rows. #}
{% macro recent_event_days_filter(day_column) -%}
    {%- if test_scope_is_full() -%}
        1 = 1
    {%- elif not execute -%}
        {{ day_column }} is not null
    {%- else -%}
        {%- set raw = [] -%}
        {%- for node in graph.sources.values() if node.source_name == 'shop' and node.name == 'interactions' -%}
            {%- do raw.append(node.relation_name) -%}
        {%- endfor -%}
        {%- set query -%}
            select cast(cast({{ dbt.dateadd('day', -(var('test_recent_days', 3) | int), 'max(loaded_at)') }}
                as date) as {{ dbt.type_string() }})
            from {{ raw[0] }}
        {%- endset -%}
        {{ day_column }} >= {{ _scalar_literal(query, 'date') }}
    {%- endif -%}
{%- endmacro %}

{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- set loaded = modules.re.search('__recently_loaded__\\((\\w+)\\)', where) -%}
        {%- if loaded -%}
            {%- set where = where | replace(loaded.group(0), recently_loaded_filter(loaded.group(1), relation)) -%}
        {%- endif -%}
        {%- set days = modules.re.search('__recent_event_days__\\((\\w+)\\)', where) -%}
        {%- if days -%}
            {%- set where = where | replace(days.group(0), recent_event_days_filter(days.group(1))) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}

{#
    `day_column` is not a day that events loaded after `relation`'s newest load (minus a minute,
    for transactions that were committing while it was built) have touched. While a live stream
    writes, staging (a view over raw) runs ahead of the marts built a moment ago: reconciliation
    tests compare the settled days only. Without a stream nothing is newer, so every day counts.
#}
{% macro settled_days_filter(day_column, relation, watermark_column='max_loaded_at') -%}
    {#- Raw rows, through the index on loaded_at: a scan of the staging view would de-duplicate every row. -#}
    {{ day_column }} not in (
        select distinct cast(recent.occurred_at as date)
        from {{ source('shop', 'interactions') }} as recent
        where recent.loaded_at > (
            select {{ dbt.dateadd('minute', -1, 'max(' ~ watermark_column ~ ')') }} from {{ relation }}
        )
    )
{%- endmacro %}
