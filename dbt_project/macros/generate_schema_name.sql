{#
    Models land in exactly the schema their folder names (staging, intermediate, marts), whatever
    the target's default schema: readers and the docs rely on those three names.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
