{#
    A pre-hook for a model that reads a few days of `int_interactions_enriched` (and the newly loaded
    rows' keys): its transaction plans no plain index scans, so those rows are read by bitmap scans.
    The planner takes the table for laid out in the day index's order, but the index lists a day's
    rows by event_id, not in the order they lie on its pages, so an index scan changes page for
    nearly every row where a bitmap scan visits each page once (most of the cost when the pages come
    from the OS cache, not the buffer pool). `set local`: for the model's own transaction only.
    PostgreSQL's planner setting: nothing on other adapters.
#}
{% macro bitmap_scans_only() -%}
    {{ return(adapter.dispatch('bitmap_scans_only')()) }}
{%- endmacro %}

{% macro default__bitmap_scans_only() -%}
{%- endmacro %}

{% macro postgres__bitmap_scans_only() -%}
    set local enable_indexscan = off
{%- endmacro %}
