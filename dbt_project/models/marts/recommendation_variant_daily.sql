{#
    Per recommender variant and day: recommendation lists served (impressions, from the API's log)
    and what followed them (events carrying the variant): clicks (views), add-to-carts, purchases
    and attributed revenue. Click-through is a share of lists: clicked_lists / impressions, where a
    list is clicked when the user viewed one of its products before their next list from the
    variant that day (a click before all of the day's lists belongs to the first: the API's and the
    shop's clocks differ). Clicks alone are no share: one list brings several, and repeats of an
    answer within the API's impression window are one impression whose clicks all count. A full
    outer join on day and variant: a variant with events but no served lists that day (or the
    reverse) still has a row.
    Incremental (keyed by activity_date, variant): the days touched by newly loaded recommended
    events or served lists are rebuilt whole (other events change no row of it). Each side keeps
    its own watermark, since the two raw tables are loaded independently (history is back-filled
    with past load times).

    For the A/B statistics (app/ab_statistics.py) the unit is a user's day in a variant: `users`
    counts those units, and the squares and cross products of each unit's lists, clicks and revenue
    are summed per day, so that a period's intervals come from sums alone. `new_users` counts the
    users whose first list from the variant was served that day (the sample-ratio check): a late
    served row can move a user's first day earlier, so an incremental run also rebuilds the day a
    touched user was first served before.
#}
{{
    config(
        materialized='incremental',
        on_schema_change='append_new_columns',
    )
}}
{{
    incremental_config(
        ['activity_date', 'variant'],
        day_key='activity_date',
        indexes=[
            {'columns': ['activity_date', 'variant'], 'unique': True},
        ],
    )
}}
-- depends_on: {{ source('shop', 'served_recommendations') }}

{%- if is_incremental() -%}
{%- set touched_event_days_list = touched_event_days('max_event_loaded_at', 'is_recommended = 1') -%}
{%- set touched_served_days_list = touched_days(
    source('shop', 'served_recommendations'), 'loaded_at', 'cast(served_at as date)', 'max_served_loaded_at'
) -%}
{%- set earlier_first_days_list = first_served_days_of_touched_users('max_served_loaded_at') -%}
{%- endif %}

with

served as (

    select * from {{ ref('stg_shop__served_recommendations') }}
    {% if is_incremental() %}
    where
        served_date in ({{ touched_event_days_list }})
        or served_date in ({{ touched_served_days_list }})
        or served_date in ({{ earlier_first_days_list }})
    {% endif %}

),

interactions as (

    select * from {{ ref('int_interactions_enriched') }}
    where
        is_recommended = 1
    {% if is_incremental() %}
    and (
        occurred_date in ({{ touched_event_days_list }})
        or occurred_date in ({{ touched_served_days_list }})
        or occurred_date in ({{ earlier_first_days_list }})
    )
    {% endif %}

),

-- each list with the moment the user's next list from the variant was served that day
list_windows as (

    select
        served_date,
        variant,
        user_id,
        product_ids,
        served_at,
        row_number() over (
            partition by served_date, variant, user_id order by served_at, request_id
        ) as list_number,
        lead(served_at) over (
            partition by served_date, variant, user_id order by served_at, request_id
        ) as next_served_at

    from served

),

-- per user, day and variant: the lists of which a product was viewed while the list was the newest
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
            and list_windows.served_date = interactions.occurred_date
            and interactions.is_view = 1
            and (list_windows.served_at <= interactions.occurred_at or list_windows.list_number = 1)
            and (list_windows.next_served_at > interactions.occurred_at or list_windows.next_served_at is null)
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
        coalesce(clicked_lists.clicked_lists, 0) as clicked_lists

    from user_lists
    left join clicked_lists
        on
            user_lists.activity_date = clicked_lists.served_date
            and user_lists.variant = clicked_lists.variant
            and user_lists.user_id = clicked_lists.user_id

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
    group by occurred_date, recommendation_variant, user_id

),

-- one row per user, day and variant with lists served or events following them: the A/B unit
units as (

    select
        coalesce(user_lists.activity_date, user_outcomes.activity_date) as activity_date,
        coalesce(user_lists.variant, user_outcomes.variant) as variant,
        coalesce(user_lists.lists, 0) as lists,
        coalesce(user_lists.clicked_lists, 0) as clicked_lists,
        coalesce(user_lists.is_first_day, 0) as is_first_day,
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

impressions as (

    select
        activity_date,
        variant,
        sum(lists) as impressions,
        sum(clicked_lists) as clicked_lists,
        max(max_served_loaded_at) as max_served_loaded_at

    from units
    where has_lists
    group by activity_date, variant

),

outcomes as (

    select
        activity_date,
        variant,
        sum(clicks) as clicks,
        sum(add_to_carts) as add_to_carts,
        sum(purchases) as purchases,
        sum(revenue) as revenue,
        max(max_event_loaded_at) as max_event_loaded_at

    from units
    where has_outcomes
    group by activity_date, variant

),

unit_sums as (

    select
        activity_date,
        variant,
        -- `users` (a keyword to the linter) is the A/B statistics' unit count (app/ab_statistics.py)
        count(*) as users,  -- noqa: RF04
        sum(is_first_day) as new_users,
        sum(lists * lists) as lists_squared,
        sum(clicks * clicks) as clicks_squared,
        sum(lists * clicks) as lists_clicks,
        sum(clicked_lists * clicked_lists) as clicked_lists_squared,
        sum(lists * clicked_lists) as lists_clicked_lists,
        sum(revenue * revenue) as revenue_squared,
        sum(lists * revenue) as lists_revenue

    from units
    group by activity_date, variant

),

final as (

    select
        unit_sums.activity_date,
        unit_sums.variant,
        cast(coalesce(impressions.impressions, 0) as {{ dbt.type_bigint() }}) as impressions,
        cast(coalesce(outcomes.clicks, 0) as {{ dbt.type_bigint() }}) as clicks,
        cast(coalesce(outcomes.add_to_carts, 0) as {{ dbt.type_bigint() }}) as add_to_carts,
        cast(coalesce(outcomes.purchases, 0) as {{ dbt.type_bigint() }}) as purchases,
        {{ to_money('coalesce(outcomes.revenue, 0)') }} as revenue,
        {{ safe_ratio('impressions.clicked_lists', 'impressions.impressions') }} as click_through,
        impressions.max_served_loaded_at,
        outcomes.max_event_loaded_at,
        cast(unit_sums.users as {{ dbt.type_bigint() }}) as users,  -- noqa: RF04
        cast(unit_sums.new_users as {{ dbt.type_bigint() }}) as new_users,
        cast(unit_sums.lists_squared as {{ dbt.type_bigint() }}) as lists_squared,
        cast(unit_sums.clicks_squared as {{ dbt.type_bigint() }}) as clicks_squared,
        cast(unit_sums.lists_clicks as {{ dbt.type_bigint() }}) as lists_clicks,
        cast(unit_sums.revenue_squared as numeric(28, 4)) as revenue_squared,
        cast(unit_sums.lists_revenue as numeric(28, 4)) as lists_revenue,
        -- last: a table built before they existed gains them (append_new_columns), null on its old days
        cast(coalesce(impressions.clicked_lists, 0) as {{ dbt.type_bigint() }}) as clicked_lists,
        cast(unit_sums.clicked_lists_squared as {{ dbt.type_bigint() }}) as clicked_lists_squared,
        cast(unit_sums.lists_clicked_lists as {{ dbt.type_bigint() }}) as lists_clicked_lists

    from unit_sums
    left join impressions
        on
            unit_sums.activity_date = impressions.activity_date
            and unit_sums.variant = impressions.variant
    left join outcomes
        on
            unit_sums.activity_date = outcomes.activity_date
            and unit_sums.variant = outcomes.variant

)

select * from final
