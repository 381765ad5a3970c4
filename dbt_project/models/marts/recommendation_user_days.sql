{#
    The recommender's A/B unit: one row per user, day and variant with lists served by the variant
    that day or events carrying it (what followed its lists): lists, lists clicked, clicks (views),
    add-to-carts, purchases and attributed revenue, whether that day was the user's first list
    from the variant, and whether it held the user's first list from any variant (their entry into
    the experiment) with the split the API served it under (variant_weights): the sample-ratio check
    compares entries with the split of their moment, so a ramped split is not a broken assignment. marts.recommendation_variant_daily adds these rows up per day and variant; the
    A/B statistics (app/ab_statistics.py) add them up per user over a period, since the user is what
    the API assigns to a variant and a user's days are not independent.

    A list is clicked when the user viewed one of its products before their next list from the
    variant, within a day of its serving (across midnight: a UTC day is any shop's evening
    somewhere); a view before the day's first list belongs to it (the API's and the shop's clocks
    differ) unless the list before still holds. Clicked lists count on the list's day. Incremental
    (keyed by activity_date): the days touched by newly loaded recommended events or served lists
    are rebuilt whole, with their neighbours a click or a list window reaches (see
    touched_recommendation_days; other events change no row of it). Each side keeps its own
    watermark, since the two raw tables are loaded independently (history is back-filled with past
    load times); a late served row can move a user's first day earlier, so an incremental run also
    rebuilds the day a touched user was first served before.
#}
{{
    config(
        materialized='incremental',
        on_schema_change='append_new_columns',
    )
}}
{{
    incremental_config(
        'activity_date',
        day_key='activity_date',
        row_key=['activity_date', 'variant', 'user_id'],
        indexes=[
            {'columns': ['activity_date', 'variant', 'user_id'], 'unique': True},
        ],
    )
}}
-- depends_on: {{ source('shop', 'served_recommendations') }}

{%- if is_incremental() -%}
{%- set touched = touched_recommendation_days() -%}
{%- endif %}

with

-- the lists of the rebuilt days and of the days either side (their windows reach across midnight)
served_around as (

    select * from {{ ref('stg_shop__served_recommendations') }}
    {% if is_incremental() %}
    where served_date in ({{ touched['lists'] }})
    {% endif %}

),

served as (

    select * from served_around
    {% if is_incremental() %}
    where served_date in ({{ touched['rows'] }})
    {% endif %}

),

-- recommended events of the rebuilt days and of the day after each (views click earlier lists)
interactions as (

    select * from {{ ref('int_interactions_enriched') }}
    where
        is_recommended = 1
        {% if is_incremental() %}
        and occurred_date in ({{ touched['views'] }})
        {% endif %}

),

-- each list with its number in the user's day and the lists from the variant before and after it
list_sequence as (

    select
        served_date,
        variant,
        user_id,
        product_ids,
        served_at,
        row_number() over (
            partition by served_date, variant, user_id order by served_at, request_id
        ) as list_number,
        lag(served_at) over (partition by variant, user_id order by served_at, request_id) as previous_served_at,
        lead(served_at) over (partition by variant, user_id order by served_at, request_id) as next_served_at

    from served_around

),

-- when each list can be clicked: from its serving (a day's first list from the day's start, unless
-- the list before it still holds) until the next list, for at most a day
list_windows as (

    select
        served_date,
        variant,
        user_id,
        product_ids,
        list_number,
        case
            when list_number = 1
                then least(
                    served_at,
                    greatest(
                        cast(served_date as {{ type_timestamp_tz() }}),
                        {{ dbt.dateadd('hour', recommendation_list_hours(), 'previous_served_at') }}
                    )
                )
            else served_at
        end as opens_at,
        least(next_served_at, {{ dbt.dateadd('hour', recommendation_list_hours(), 'served_at') }}) as closes_at

    from list_sequence
    {% if is_incremental() %}
    where served_date in ({{ touched['rows'] }})
    {% endif %}

),

-- per user, day and variant: the lists of which a product was viewed while the list's window was open
clicked_lists as (

    select
        list_windows.served_date,
        list_windows.variant,
        list_windows.user_id,
        count(distinct list_windows.list_number) as clicked_lists

    from list_windows
    inner join interactions
        on
            list_windows.user_id = interactions.user_id
            and list_windows.variant = interactions.recommendation_variant
            and interactions.is_view = 1
            and list_windows.opens_at <= interactions.occurred_at
            and list_windows.closes_at > interactions.occurred_at
            and {{ array_contains('list_windows.product_ids', 'interactions.product_id') }}
    group by list_windows.served_date, list_windows.variant, list_windows.user_id

),

first_exposures as (

    -- each served user's first day in each variant, over the whole log
    select
        user_id,
        variant,
        min(served_date) as first_served_date

    from {{ ref('stg_shop__served_recommendations') }}
    {% if is_incremental() %}
    where user_id in (select served.user_id from served)
    {% endif %}
    group by user_id, variant

),

-- each served user's lists from any variant in order, over the whole log: the first is their entry
-- into the experiment, with the split the API assigned them under then
ranked_lists as (

    select
        user_id,
        variant,
        served_date,
        variant_weights,
        row_number() over (partition by user_id order by served_at, request_id) as list_rank

    from {{ ref('stg_shop__served_recommendations') }}
    {% if is_incremental() %}
    where user_id in (select served.user_id from served)
    {% endif %}

),

first_lists as (

    select
        user_id,
        variant,
        served_date,
        variant_weights

    from ranked_lists
    where list_rank = 1

),

user_lists as (

    select
        served.served_date as activity_date,
        served.variant,
        served.user_id,
        count(*) as lists,
        max({{ flag('served.served_date = first_exposures.first_served_date') }}) as is_first_day,
        max(served.loaded_at) as max_served_loaded_at

    from served
    inner join first_exposures
        on
            served.user_id = first_exposures.user_id
            and served.variant = first_exposures.variant
    group by served.served_date, served.variant, served.user_id

),

user_lists_clicked as (

    select
        user_lists.activity_date,
        user_lists.variant,
        user_lists.user_id,
        user_lists.lists,
        user_lists.is_first_day,
        user_lists.max_served_loaded_at,
        coalesce(clicked_lists.clicked_lists, 0) as clicked_lists,
        {{ flag('first_lists.user_id is not null') }} as is_first_list,
        first_lists.variant_weights as first_list_weights

    from user_lists
    left join clicked_lists
        on
            user_lists.activity_date = clicked_lists.served_date
            and user_lists.variant = clicked_lists.variant
            and user_lists.user_id = clicked_lists.user_id
    left join first_lists
        on
            user_lists.user_id = first_lists.user_id
            and user_lists.activity_date = first_lists.served_date
            and user_lists.variant = first_lists.variant

),

user_outcomes as (

    select
        occurred_date as activity_date,
        recommendation_variant as variant,
        user_id,
        sum(is_view) as clicks,
        sum(is_add_to_cart) as add_to_carts,
        sum(is_purchase) as purchases,
        coalesce(sum(revenue), 0) as revenue,
        max(last_loaded_at) as max_event_loaded_at

    from interactions
    {% if is_incremental() %}
    where occurred_date in ({{ touched['rows'] }})
    {% endif %}
    group by occurred_date, recommendation_variant, user_id

),

-- one row per user, day and variant with lists served or events following them: the A/B unit
units as (

    select
        coalesce(user_lists.activity_date, user_outcomes.activity_date) as activity_date,
        coalesce(user_lists.variant, user_outcomes.variant) as variant,
        coalesce(user_lists.user_id, user_outcomes.user_id) as user_id,
        coalesce(user_lists.lists, 0) as lists,
        coalesce(user_lists.clicked_lists, 0) as clicked_lists,
        coalesce(user_lists.is_first_day, 0) as is_first_day,
        coalesce(user_lists.is_first_list, 0) as is_first_list,
        user_lists.first_list_weights,
        coalesce(user_outcomes.clicks, 0) as clicks,
        coalesce(user_outcomes.add_to_carts, 0) as add_to_carts,
        coalesce(user_outcomes.purchases, 0) as purchases,
        cast(coalesce(user_outcomes.revenue, 0) as {{ dbt.type_numeric() }}) as revenue,
        user_lists.lists is not null as has_lists,
        user_outcomes.clicks is not null as has_outcomes,
        user_lists.max_served_loaded_at,
        user_outcomes.max_event_loaded_at

    from user_lists_clicked as user_lists
    full outer join user_outcomes
        on
            user_lists.activity_date = user_outcomes.activity_date
            and user_lists.variant = user_outcomes.variant
            and user_lists.user_id = user_outcomes.user_id

),

final as (

    select
        activity_date,
        variant,
        user_id,
        cast(lists as {{ dbt.type_bigint() }}) as lists,
        cast(clicked_lists as {{ dbt.type_bigint() }}) as clicked_lists,
        cast(clicks as {{ dbt.type_bigint() }}) as clicks,
        cast(add_to_carts as {{ dbt.type_bigint() }}) as add_to_carts,
        cast(purchases as {{ dbt.type_bigint() }}) as purchases,
        {{ to_money('revenue') }} as revenue,
        cast(is_first_day as {{ dbt.type_int() }}) as is_first_day,
        cast(is_first_list as {{ dbt.type_int() }}) as is_first_list,
        first_list_weights,
        has_lists,
        has_outcomes,
        max_served_loaded_at,
        max_event_loaded_at

    from units

)

select * from final
