{#
    The time a snapshot records, as timestamptz: dbt-postgres's default is a timestamp without time
    zone, which dbt then warns differs from raw.products.updated_at (timestamptz, like every time
    in this project).
#}
{% macro postgres__snapshot_get_time() -%}
    now()
{%- endmacro %}
