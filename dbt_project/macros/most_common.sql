{#
    The most frequent non-null value of `column` in the group, the lowest one among equally frequent
    values; null when there is none. One pass with the group's other aggregates (a second grouping
    of the same rows, joined back, doubled the cost of product_daily_performance).
#}
{% macro most_common(column) -%}
    {{ return(adapter.dispatch('most_common')(column)) }}
{%- endmacro %}

{% macro default__most_common(column) -%}
    mode() within group (order by {{ column }})
{%- endmacro %}

{# Spark 4: deterministic, the lowest of equally frequent values, as PostgreSQL's mode(). #}
{% macro spark__most_common(column) -%}
    mode({{ column }}, true)
{%- endmacro %}
