{#
    The incremental rule (DESIGN.md): an incremental run gives exactly the rows a full refresh gives,
    whatever the lateness, order and duplication of arrivals. Every incremental model stores, per
    row, the newest warehouse load time (`loaded_at`) of the events it was built from. Its watermark
    is the max of that column; a run rebuilds, whole, every key (day, order, session, user x product)
    touched by events loaded after the watermark (minus a small overlap, see dbt_project.yml), with
    delete+insert on that key. No look-back window on event time: a month-late event still
    re-touches its day.

    In a real run the watermark is read first and inlined as a literal, so that PostgreSQL plans the
    touched-key look-ups with its statistics (index scans on the few new rows). In unit tests, where
    `this` is a fixture, the same logic is rendered as a subquery.
#}

{% macro _inline_queries() -%}
    {{ return(execute and model.resource_type == 'model') }}
{%- endmacro %}

{% macro watermark_floor() -%}
    cast('1900-01-01 00:00:00' as {{ type_timestamp_tz() }})
{%- endmacro %}

{# The timestamp after which newly loaded rows must be processed by this (incremental) model. #}
{% macro incremental_watermark(column='max_loaded_at') -%}
    {%- set overlap = var('watermark_overlap_minutes', 5) | int -%}
    {%- set shifted = dbt.dateadd('minute', -overlap, 'max(' ~ column ~ ')') -%}
    {%- if _inline_queries() -%}
        {%- set query -%}
            select cast({{ shifted }} as {{ dbt.type_string() }}) from {{ this }}
        {%- endset -%}
        {%- set value = run_query(query).columns[0].values()[0] -%}
        {%- if value is none -%}
            {{ watermark_floor() }}
        {%- else -%}
            cast('{{ value }}' as {{ type_timestamp_tz() }})
        {%- endif -%}
    {%- else -%}
        (select coalesce({{ shifted }}, {{ watermark_floor() }}) from {{ this }})
    {%- endif -%}
{%- endmacro %}

{#
    The days touched by rows of `relation` loaded after this model's watermark, as the inside of
    `in (...)`. A literal list in real runs: the planner then knows it is a handful of days (index
    scans), and a filter on the staging view's day column reaches through its de-duplication
    (partitioned by day) down to the raw scan. A subquery in unit tests.
#}
{% macro touched_days(relation, loaded_at_column, day_expression, watermark_column='max_loaded_at') -%}
    {%- set query -%}
        select distinct {{ day_expression }} as touched_day
        from {{ relation }}
        where {{ loaded_at_column }} > {{ incremental_watermark(watermark_column) }}
    {%- endset -%}
    {%- if _inline_queries() -%}
        {%- set days = run_query(query ~ ' order by 1').columns[0].values() -%}
        {%- if days | length == 0 -%}
            cast(null as date)
        {%- else -%}
            {%- for day in days -%}
                cast('{{ day }}' as date){{ ", " if not loop.last }}
            {%- endfor -%}
        {%- endif -%}
    {%- else -%}
        {{ query }}
    {%- endif -%}
{%- endmacro %}

{# The days of raw events loaded after the watermark of int_interactions_enriched. #}
{% macro touched_days_from_source(source_relation, watermark_column='last_loaded_at') -%}
    {{ touched_days(source_relation, 'loaded_at', 'cast(occurred_at as date)', watermark_column) }}
{%- endmacro %}

{# The event days (occurred_date) of enriched events loaded after this model's watermark. #}
{% macro touched_event_days(watermark_column='max_loaded_at') -%}
    {{ touched_days(ref('int_interactions_enriched'), 'last_loaded_at', 'occurred_date', watermark_column) }}
{%- endmacro %}
