{#
    The days an incremental run of the recommendation marts rebuilds (recommendation_user_days and
    recommendation_variant_daily, each from its own two watermarks), and the days of input each needs.

    A list is clicked by a view of one of its products until the user's next list from the variant,
    for at most recommendation_list_hours() (a day), so clicks cross midnight: a shop whose evening is UTC's midnight
    clicks at 00:02 the lists it was served at 23:58. Hence the rebuilt days (`rows`):
    - days of newly loaded recommended events, and the day before each (their views may click its lists);
    - days of newly loaded served lists, and the days either side (a new list ends the window of the
      list before it, and starts the window the next day's first list gets);
    - the earlier first days of the users those lists touch (a late list can move a user's first day).
    A day's rows read the served lists of the days either side (`lists`) and the views of that day and
    the next (`views`).

    Each is the inside of `in (...)`: literal days in real runs (one query), subqueries in unit tests.
#}
{% macro touched_recommendation_days() -%}
    {%- set query = recommendation_rebuilt_days_query() -%}
    {%- if inline_queries() -%}
        {%- set days = run_query(query ~ ' order by 1').columns[0].values() | list -%}
        {%- set one_day = modules.datetime.timedelta(days=1) -%}
        {%- set around, following = [], [] -%}
        {%- for day in days -%}
            {%- do around.extend([day - one_day, day, day + one_day]) -%}
            {%- do following.extend([day, day + one_day]) -%}
        {%- endfor -%}
        {{ return({
            'rows': literal_days(days),
            'lists': literal_days(around),
            'views': literal_days(following),
        }) }}
    {%- else -%}
        {{ return({
            'rows': query,
            'lists': shifted_days_query(query, [-1, 0, 1]),
            'views': shifted_days_query(query, [0, 1]),
        }) }}
    {%- endif -%}
{%- endmacro %}

{#
    How long a served list stays clickable at most. The rebuilt days reach one day either side of a
    change, which holds for up to 24 hours: a longer window needs a wider reach.
#}
{% macro recommendation_list_hours() -%}
    24
{%- endmacro %}

{% macro recommendation_rebuilt_days_query() -%}
    {%- set log = source('shop', 'served_recommendations') -%}
    {%- set event_watermark = incremental_watermark('max_event_loaded_at') -%}
    {%- set served_watermark = incremental_watermark('max_served_loaded_at') -%}
    with

    event_days as (
        select distinct occurred_date as touched_day
        from {{ ref('int_interactions_enriched') }}
        where last_loaded_at > {{ event_watermark }} and is_recommended = 1
    ),

    served_days as (
        select distinct cast(served_at as date) as touched_day
        from {{ log }}
        where loaded_at > {{ served_watermark }}
    ),

    earlier_first_days as (
        select distinct cast(min(served_at) as date) as touched_day
        from {{ log }}
        where
            loaded_at <= {{ served_watermark }}
            and user_id in (select user_id from {{ log }} where loaded_at > {{ served_watermark }})
        group by user_id, variant
    )

    select touched_day from event_days
    union select {{ day_after('touched_day', -1) }} from event_days
    union select touched_day from served_days
    union select {{ day_after('touched_day', -1) }} from served_days
    union select {{ day_after('touched_day', 1) }} from served_days
    union select touched_day from earlier_first_days
{%- endmacro %}

{% macro day_after(column, days) -%}
    cast({{ dbt.dateadd('day', days, column) }} as date)
{%- endmacro %}

{% macro shifted_days_query(query, shifts) -%}
    {%- for shift in shifts %}
    select {{ day_after('days.touched_day', shift) }} as touched_day from ({{ query }}) as days
    {%- if not loop.last %} union{% endif %}
    {%- endfor %}
{%- endmacro %}
