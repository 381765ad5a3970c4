{#
    For marts.recommendation_variant_daily's first-exposure count: the day each user with served
    lists loaded after the watermark was first served before them. A late list can move a user's
    first day earlier; the day that counted them until now must then be rebuilt as well. The inside
    of `in (...)`, rendered as touched_days renders its list (a literal list in real runs).
#}
{% macro first_served_days_of_touched_users(watermark_column) -%}
    {%- set log = source('shop', 'served_recommendations') -%}
    {%- set watermark = incremental_watermark(watermark_column) -%}
    {%- set query -%}
        select distinct cast(earlier.first_served_at as date) as touched_day
        from (
            select min(served_at) as first_served_at
            from {{ log }}
            where
                loaded_at <= {{ watermark }}
                and user_id in (select user_id from {{ log }} where loaded_at > {{ watermark }})
            group by user_id, variant
        ) as earlier
    {%- endset -%}
    {{- days_in(query) -}}
{%- endmacro %}
