{#
    A pre-hook for a model that reads a few days of `int_interactions_enriched` (and the newly loaded
    rows' keys): its transaction plans no plain index scans, so those rows are read by bitmap scans.
    The planner takes the table for laid out in the day index's order, but the index lists a day's
    rows by event_id, not in the order they lie on its pages, so an index scan changes page for
    nearly every row where a bitmap scan visits each page once (most of the cost when the pages come
    from the OS cache, not the buffer pool). `set local`: for the model's own transaction only.
    PostgreSQL's planner setting: nothing on other adapters.
    The same holds for the newly loaded rows read through `last_loaded_at`'s index: a run's new
    events are written in (day, event) order, so their load times do not follow their pages either,
    while the column's statistics (nearly the table's order over its whole history) let the planner
    expect a sequential walk.
#}
{% macro bitmap_scans_only() -%}
    {{ return(adapter.dispatch('bitmap_scans_only')()) }}
{%- endmacro %}

{% macro default__bitmap_scans_only() -%}
{%- endmacro %}

{% macro postgres__bitmap_scans_only() -%}
    set local enable_indexscan = off
{%- endmacro %}

{#
    For a model with the pre-hook whose SQL runs queries while it compiles (its touched days, read from
    the newly loaded rows through `last_loaded_at`'s index): `{% do bitmap_scans_while_compiling() %}`
    before them. The pre-hook runs only after compilation; this sets the same in the transaction
    that compilation opens (run_query begins one), which lasts into the model's own statements, and
    no further: a kept connection is rolled back and reset between nodes (shop/dbt_connections.py).
    Every later compile-time query of the model runs without index scans too: not for a model whose
    watermark (`max(max_loaded_at)` of itself) is read through an index on that column, as
    `product_daily_performance`'s is, which would then scan its whole table.
#}
{% macro bitmap_scans_while_compiling() -%}
    {%- set setting = bitmap_scans_only() | trim -%}
    {%- if execute and model.resource_type == 'model' and setting -%}
        {%- do run_query(setting) -%}
    {%- endif -%}
{%- endmacro %}

{#
    run_query(query) with index scans allowed, in a transaction where bitmap_scans_while_compiling()
    may have turned them off (the setting is put back after it): for a compile-time query that an
    index-only scan answers (a count of a day's events in the key index of int_interactions_enriched).
#}
{% macro run_query_with_index_scans(query) -%}
    {{ return(adapter.dispatch('run_query_with_index_scans')(query)) }}
{%- endmacro %}

{% macro default__run_query_with_index_scans(query) -%}
    {{ return(run_query(query)) }}
{%- endmacro %}

{% macro postgres__run_query_with_index_scans(query) -%}
    {%- set before = run_query('show enable_indexscan').columns[0].values()[0] -%}
    {%- do run_query('set local enable_indexscan = on') -%}
    {%- set result = run_query(query) -%}
    {%- do run_query("set local enable_indexscan = '" ~ ('on' if before == 'on' else 'off') ~ "'") -%}
    {{ return(result) }}
{%- endmacro %}

{#
    A data test's query (dbt's get_test_sql, which the test materialization runs in a transaction),
    preceded by the same setting when the test's config says `meta: {bitmap_scans_only: true}`:
    for tests scoped to the newly loaded rows of `int_interactions_enriched`, whose index scan of
    `last_loaded_at` fetched a heap page for nearly every row. Other tests plan as before (their key
    look-ups need index scans).
#}
{% macro get_test_sql(main_sql, fail_calc, warn_if, error_if, limit) -%}
    {%- set setting = bitmap_scans_only() | trim if (config.get('meta') or {}).get('bitmap_scans_only') else '' -%}
    {%- if setting %}{{ setting }};
    {% endif -%}
    {{ adapter.dispatch('get_test_sql', 'dbt')(main_sql, fail_calc, warn_if, error_if, limit) }}
{%- endmacro %}
