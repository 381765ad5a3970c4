{#
    The incremental rule (docs/architecture.md): an incremental run gives exactly the rows a full refresh gives,
    whatever the lateness, order and duplication of arrivals. Every incremental model stores, per
    row, the newest warehouse load time (`loaded_at`) of the events it was built from. Its watermark
    is the max of that column; a run rebuilds, whole, every key (day, order, session, user x product)
    touched by events loaded after the watermark (minus a small overlap, see dbt_project.yml), with
    merge_changed on that key (below). No look-back window on event time: a month-late event still
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
{% macro touched_days(relation, loaded_at_column, day_expression, watermark_column='max_loaded_at', condition=none) -%}
    {%- set query -%}
        select distinct {{ day_expression }} as touched_day
        from {{ relation }}
        where {{ loaded_at_column }} > {{ incremental_watermark(watermark_column) }}
        {%- if condition %} and {{ condition }}{% endif %}
    {%- endset -%}
    {{- days_in(query) -}}
{%- endmacro %}

{#
    The inside of `in (...)` for a query of days (one column): a literal list in real runs (the
    planner then knows it is a handful of days), `cast(null as date)` when there is none, and the
    query itself in unit tests.
#}
{% macro days_in(query) -%}
    {%- if inline_queries() -%}
        {{- literal_days(run_query(query).columns[0].values()) -}}
    {%- else -%}
        {{ query }}
    {%- endif -%}
{%- endmacro %}

{# Dates as the inside of `in (...)`, each once, in order; `cast(null as date)` for none. #}
{% macro literal_days(days) -%}
    {%- set unique = days | unique | sort -%}
    {%- if unique | length == 0 -%}
        cast(null as date)
    {%- else -%}
        {%- for day in unique -%}
            cast('{{ day }}' as date){{ ", " if not loop.last }}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{# The days of raw events loaded after the watermark of int_interactions_enriched. #}
{% macro touched_days_from_source(source_relation, watermark_column='last_loaded_at') -%}
    {{ touched_days(source_relation, 'loaded_at', utc_date('occurred_at'), watermark_column) }}
{%- endmacro %}

{#
    The event days (occurred_date) of enriched events loaded after this model's watermark; with
    `condition`, of those events only that the model is built from. The watermark is the newest load
    of the rows the model stored, so events it never reads must not count as touching: a model of
    recommended events only, in a shop with none, has no watermark, and every day would be rebuilt
    (read whole) at every run.
#}
{% macro touched_event_days(watermark_column='max_loaded_at', condition=none) -%}
    {{ touched_days(ref('int_interactions_enriched'), 'last_loaded_at', 'occurred_date', watermark_column, condition) }}
{%- endmacro %}

{#
    touched_event_days(), less the days whose stored rows this run would write again as they are,
    for a model that rebuilds whole days from every enriched event and stores per row the events it
    counts (`events_column`). The watermark's overlap re-reads the loads of the minutes before the
    newest one the model counted (a loader may commit rows late, stamped earlier): their days, often
    several through a few late events, are touched although the model may count each row already.
    A day is left out when every touched row of it lies inside the overlap (none loaded after the
    newest load the model counted), none of them has more than one delivery, and the day's stored
    events are as many as the enriched day's. Exact under the incremental rule's own premise (a
    delivery loaded before the overlap was there for the model's previous run): the day's other events
    have no delivery the model did not see; an event (day, event id) is never removed, so equal
    counts mean none of the touched ones is new to it, and a single delivery seen is the whole event.
    A redelivery inside the overlap rebuilds its day (the stored rows may count the event without it).
    Two queries while compiling; the enriched day is counted (its key index) only where the overlap
    alone touched it. In unit tests (no queries while compiling) every touched day, as a subquery.
#}
{% macro unsettled_event_days(events_column='events', day_column='event_date') -%}
    {%- if not inline_queries() -%}
        {{- return(touched_event_days()) -}}
    {%- endif -%}
    {%- set enriched = ref('int_interactions_enriched') -%}
    {%- set touched_query -%}
        select
            cast(occurred_date as {{ dbt.type_string() }}) as touched_day,
            coalesce(
                max(last_loaded_at) <= (select max(max_loaded_at) from {{ this }}) and max(delivery_count) = 1,
                false
            ) as maybe_settled
        from {{ enriched }}
        where last_loaded_at > {{ incremental_watermark() }}
        group by occurred_date
        order by occurred_date
    {%- endset -%}
    {%- set touched = run_query(touched_query) -%}
    {%- set candidates = [] -%}
    {%- for row in touched.rows if row[1] -%}
        {%- do candidates.append("cast('" ~ row[0] ~ "' as date)") -%}
    {%- endfor -%}
    {%- set settled = [] -%}
    {%- if candidates -%}
        {%- set settled_query -%}
            select cast(enriched_days.occurred_date as {{ dbt.type_string() }})
            from (
                select occurred_date, count(*) as events
                from {{ enriched }}
                where occurred_date in ({{ candidates | join(', ') }})
                group by occurred_date
            ) as enriched_days
            inner join (
                select {{ day_column }} as stored_day, sum({{ events_column }}) as events
                from {{ this }}
                where {{ day_column }} in ({{ candidates | join(', ') }})
                group by {{ day_column }}
            ) as stored_days
                on enriched_days.occurred_date = stored_days.stored_day
            where enriched_days.events = stored_days.events
        {%- endset -%}
        {#- (the count reads the key index alone where the pages are all visible) -#}
        {%- set settled = run_query_with_index_scans(settled_query).columns[0].values() | list -%}
    {%- endif -%}
    {{- literal_days(touched.columns[0].values() | reject('in', settled) | list) -}}
{%- endmacro %}

{#
    `(columns) in (those of the enriched events loaded after this model's watermark)`, for a model
    keyed finer than the day (a day and a product): with the touched days' filter, it rebuilds only
    the keys new rows touched. A day's late events touch a few of its products, where the whole day
    was re-aggregated before. Only where the model merges on that key (PostgreSQL): Spark's
    insert_overwrite rewrites whole days, so there it is `1 = 1`.
#}
{% macro touched_event_keys(columns, watermark_column='max_loaded_at') -%}
    {%- if incremental_by_key() -%}
        ({{ columns | join(', ') }}) in (
            select {{ columns | join(', ') }}
            from {{ ref('int_interactions_enriched') }}
            where last_loaded_at > {{ incremental_watermark(watermark_column) }}
        )
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#
    Each engine's incremental strategy, set on the calling model: `{{ incremental_config(key, ...) }}`
    after its config() block (it renders nothing).
    PostgreSQL: merge_changed on the model's unique key (below), with the model's indexes. Spark on plain
    Parquet tables has no row-level delete (MERGE needs Delta or Iceberg, whose jars a local Spark
    would download at run time), so it uses insert_overwrite: of the day partitions for models
    keyed by day (`day_key`: the touched days are rebuilt whole, as on PostgreSQL), and of the
    whole table for models keyed by an entity (order, session, user x product, event).
#}
{% macro incremental_config(unique_key, day_key=none, indexes=none, row_key=none) -%}
    {%- do config(**adapter.dispatch('incremental_config')(unique_key, day_key, indexes, row_key)) -%}
{%- endmacro %}

{#
    `row_key`: the columns that identify a row, when the unique key names a group of rows rebuilt
    together (order_lines: an order's lines; daily_category_funnel: a day's categories).
#}
{% macro default__incremental_config(unique_key, day_key, indexes, row_key) -%}
    {%- set settings = {'incremental_strategy': 'merge_changed', 'unique_key': unique_key} -%}
    {%- if indexes -%}
        {%- do settings.update({'indexes': indexes}) -%}
    {%- endif -%}
    {%- if row_key -%}
        {%- do settings.update({'row_key': row_key}) -%}
    {%- endif -%}
    {{ return(settings) }}
{%- endmacro %}

{% macro spark__incremental_config(unique_key, day_key, indexes, row_key) -%}
    {{ return({'incremental_strategy': 'insert_overwrite', 'file_format': 'parquet', 'partition_by': day_key}) }}
{%- endmacro %}

{#
    True in an incremental run that may write only the touched keys' rows: merge_changed replaces
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
    table; an array from a sub-select is costed as a short list, so it looks the keys up in the
    column's index.
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

{#
    The `merge_changed` incremental strategy (PostgreSQL): what delete+insert on the unique key ends
    with, writing only what changed. A run rebuilds whole keys, and most of what it rebuilds comes
    out as it was: every order of a customer with a new order, every month of a user with a new
    session, every product of a day with one late event. delete+insert deletes and re-inserts all of
    them (dead rows, index entries, WAL); here a rebuilt row identical to the stored one is left
    alone, a changed one is updated and a new one inserted. Rows of keys not rebuilt are untouched
    under both. Where the unique key names a group of rows (config `row_key`: the columns of one
    row), the group's stored rows that the rebuild no longer yields are deleted first. A row key must
    be unique among the rebuilt rows (MERGE refuses to change a row twice). The temp table's key
    columns are analyzed first: without its row count and key statistics the planner may scan the
    whole model instead of looking each key up in its index (the other columns' statistics, which
    no plan here uses, are not worth their time on the critical path). Before
    PostgreSQL 15 (no MERGE): delete+insert.

    `meta.new_rows` ({'loaded': column, 'after_stored': column, 'insert_order': [columns]}): a rebuilt
    row whose `loaded` value is after the newest stored `after_stored` value cannot have a stored
    row (int_interactions_enriched: an event first loaded after the newest load the table counted
    was never counted; user_item_interactions: a user above every stored user has no stored pair).
    Those rows are inserted without MERGE's look-up of each key, in `insert_order`: the heap then
    holds them in the order of the index its readers walk. The newest stored value is read before
    any row is written (the merge of the other rows may raise it), as a literal of the column's own
    type that PostgreSQL quotes; the insert runs last, so the rows it reports are the new ones.
#}
{% macro get_incremental_merge_changed_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set version = run_query('show server_version_num').columns[0].values()[0] | int -%}
    {%- if version < 150000 or arg_dict['incremental_predicates'] -%}
        {{ return(get_incremental_delete_insert_sql(arg_dict)) }}
    {%- endif -%}
    {%- set unique_key = arg_dict['unique_key'] -%}
    {%- set group_key = [unique_key] if unique_key is string else unique_key -%}
    {%- set row_key = config.get('row_key') or group_key -%}
    {%- set row_key = [row_key] if row_key is string else row_key -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='name') | list -%}
    {%- set values = columns | reject('in', row_key | map('lower') | list) | list -%}
    {%- set key_columns = (group_key + row_key) | map('lower') | unique | list -%}
    {%- set new_rows = config.get('meta', {}).get('new_rows') -%}
    {%- set newest_stored = none -%}
    {%- if new_rows -%}
        {%- set newest = 'max(' ~ adapter.quote(new_rows['after_stored']) ~ ')' -%}
        {%- set found = run_query(
            "select format('%L::%s', " ~ newest ~ ", pg_typeof(" ~ newest ~ ")) from " ~ target
            ~ ' having ' ~ newest ~ ' is not null'
        ).columns[0].values() -%}
        {%- set newest_stored = found[0] if found | length > 0 else none -%}
    {%- endif -%}
    {%- if newest_stored is not none -%}
        {%- set is_new = adapter.quote(new_rows['loaded']) ~ ' > ' ~ newest_stored -%}
        {%- set merged = '(select * from ' ~ source ~ ' where (' ~ is_new ~ ') is not true)' -%}
    {%- else -%}
        {%- set merged = source -%}
    {%- endif -%}
    analyze {{ source }} ({{ _columns_of(none, key_columns) }});

    {% if row_key | map('lower') | list != group_key | map('lower') | list -%}
    delete from {{ target }} as dbt_internal_dest
    where
        ({{ group_key | join(', ') }}) in (
            select {{ group_key | join(', ') }} from {{ source }}
        )
        and not exists (
            select 1 from {{ source }} as dbt_internal_source
            where {{ _columns_match(row_key) }}
        );

    {% endif -%}
    merge into {{ target }} as dbt_internal_dest
    using {{ merged }} as dbt_internal_source
    on {{ _columns_match(row_key) }}
    {%- if values %}
    when matched and ({{ _columns_of('dbt_internal_dest', values) }})
        is distinct from ({{ _columns_of('dbt_internal_source', values) }}) then update set
        {%- for column in values %}
        {{ adapter.quote(column) }} = dbt_internal_source.{{ adapter.quote(column) }}{{ ',' if not loop.last }}
        {%- endfor %}
    {%- endif %}
    when not matched then insert ({{ _columns_of(none, columns) }})
    values ({{ _columns_of('dbt_internal_source', columns) }})
    {%- if newest_stored is not none %};

    insert into {{ target }} ({{ _columns_of(none, columns) }})
    select {{ _columns_of(none, columns) }}
    from {{ source }}
    where {{ is_new }}
    {%- if new_rows.get('insert_order') %}
    order by {{ _columns_of(none, new_rows['insert_order']) }}
    {%- endif %}
    {%- endif %}
{%- endmacro %}

{% macro _columns_of(alias, columns) -%}
    {%- for column in columns -%}
        {{ alias ~ '.' if alias }}{{ adapter.quote(column) }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{% macro _columns_match(columns) -%}
    {%- for column in columns -%}
        dbt_internal_dest.{{ adapter.quote(column) }} = dbt_internal_source.{{ adapter.quote(column) }}
        {{- ' and ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
