{#
    For the first-exposure flag of marts.recommendation_user_days (and its daily sums): the day each user with served
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


{#
    The days an incremental run of the recommendation marts rebuilds (recommendation_user_days and
    recommendation_variant_daily, each from its own two watermarks): days of newly loaded
    recommended events, days of newly loaded served lists, and the earlier first days of the users
    those lists touch. A list of three `in (...)` insides (see days_in); `in_touched_days` renders
    the filter on a day column.
#}
{% macro touched_recommendation_days() -%}
    {{ return([
        touched_event_days('max_event_loaded_at', 'is_recommended = 1'),
        touched_days(
            source('shop', 'served_recommendations'), 'loaded_at', 'cast(served_at as date)', 'max_served_loaded_at'
        ),
        first_served_days_of_touched_users('max_served_loaded_at'),
    ]) }}
{%- endmacro %}

{% macro in_touched_days(column, day_lists) -%}
    ({%- for days in day_lists %}{{ column }} in ({{ days }}){{ " or " if not loop.last }}{% endfor -%})
{%- endmacro %}
