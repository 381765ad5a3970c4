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

{% macro inline_queries() -%}
    {{ return(execute and model.resource_type == 'model') }}
{%- endmacro %}

{% macro watermark_floor() -%}
    cast('1900-01-01 00:00:00' as {{ type_timestamp_tz() }})
{%- endmacro %}

{# The timestamp after which newly loaded rows must be processed by this (incremental) model. #}
{% macro incremental_watermark(column='max_loaded_at') -%}
    {%- set overlap = var('watermark_overlap_minutes', 5) | int -%}
    {%- set shifted = dbt.dateadd('minute', -overlap, 'max(' ~ column ~ ')') -%}
    {%- if inline_queries() -%}
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
    {%- if inline_queries() -%}
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
    {{ touched_days(source_relation, 'loaded_at', utc_date('occurred_at'), watermark_column) }}
{%- endmacro %}

{# The event days (occurred_date) of enriched events loaded after this model's watermark. #}
{% macro touched_event_days(watermark_column='max_loaded_at') -%}
    {{ touched_days(ref('int_interactions_enriched'), 'last_loaded_at', 'occurred_date', watermark_column) }}
{%- endmacro %}

{#
    Each engine's incremental strategy, set on the calling model: `{{ incremental_config(key, ...) }}`
    after its config() block (it renders nothing).
    PostgreSQL: delete+insert on the model's unique key, with the model's indexes. Spark on plain
    Parquet tables has no row-level delete (MERGE needs Delta or Iceberg, whose jars a local Spark
    would download at run time), so it uses insert_overwrite: of the day partitions for models
    keyed by day (`day_key`: the touched days are rebuilt whole, as on PostgreSQL), and of the
    whole table for models keyed by an entity (order, session, user x product, event).
#}
{% macro incremental_config(unique_key, day_key=none, indexes=none) -%}
    {%- do config(**adapter.dispatch('incremental_config')(unique_key, day_key, indexes)) -%}
{%- endmacro %}

{% macro default__incremental_config(unique_key, day_key, indexes) -%}
    {%- set settings = {'incremental_strategy': 'delete+insert', 'unique_key': unique_key} -%}
    {%- if indexes -%}
        {%- do settings.update({'indexes': indexes}) -%}
    {%- endif -%}
    {{ return(settings) }}
{%- endmacro %}

{% macro spark__incremental_config(unique_key, day_key, indexes) -%}
    {{ return({'incremental_strategy': 'insert_overwrite', 'file_format': 'parquet', 'partition_by': day_key}) }}
{%- endmacro %}

{#
    True in an incremental run that may write only the touched keys' rows: delete+insert replaces
    rows by unique key. False on a first build or a full refresh, and under Spark's insert_overwrite,
    which replaces whole day partitions (models keyed by day filter their days under is_incremental()
    alone) or, unpartitioned, the whole table: the model then selects every row.
#}
{% macro incremental_by_key() -%}
    {{ return(adapter.dispatch('incremental_by_key')()) }}
{%- endmacro %}

{% macro default__incremental_by_key() -%}
    {{ return(is_incremental()) }}
{%- endmacro %}

{% macro spark__incremental_by_key() -%}
    {{ return(false) }}
{%- endmacro %}

{#
    `column in (<the keys selected in the call block>)`, for an incremental run's look-up of the rows
    of its touched keys:
        {% call in_keys('session_id') %} select ... {% endcall %}
    PostgreSQL: `column = any(array(...))`. With `in (subquery)` the planner guesses the number
    of distinct touched keys from the rows that select them and, over-guessing, scans the whole
    table (sessions: 1.1 s in 3 processes for 11k touched sessions of 5M events); an array from
    a sub-select is costed as a short list, so it looks the keys up in the column's index (0.35 s).
#}
{% macro in_keys(column) -%}
    {{ return(adapter.dispatch('in_keys')(column, caller())) }}
{%- endmacro %}

{% macro default__in_keys(column, keys) -%}
    {{ column }} in ({{ keys }})
{%- endmacro %}

{% macro postgres__in_keys(column, keys) -%}
    {{ column }} = any(array({{ keys }}))
{%- endmacro %}
