{#
    True in an incremental run whose stored table lacks one of `columns`: a column added to the model
    since the table was built. on_schema_change='append_new_columns' adds it empty; the model then
    rebuilds every key (not only the touched ones) once, so that the old rows get their values too,
    and an upgraded warehouse equals a fresh one without a --full-refresh. One catalogue look-up.
    False in unit tests, where `this` is a fixture (see inline_queries()).
#}
{% macro stored_without(columns) -%}
    {%- if not (inline_queries() and is_incremental()) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set stored = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {{ return(columns | reject('in', stored) | list | length > 0) }}
{%- endmacro %}
