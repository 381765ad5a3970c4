{#
    Per recommender variant and day: recommendation lists served (impressions, from the API's log)
    and what followed them (events carrying the variant): clicks (views), add-to-carts, purchases
    and attributed revenue, added up from marts.recommendation_user_days (where a list counts as
    clicked, and why). Click-through is a share of lists: clicked_lists / impressions. Clicks alone
    are no share: one list brings several, and repeats of an answer within the API's impression
    window are one impression whose clicks all count. A variant with events but no served lists
    that day (or the reverse) still has a row. `users` counts the users active in the variant that
    day and `new_users` those whose first list from it was served that day (the sample-ratio check).
    Incremental (keyed by activity_date, variant): the same touched days as
    recommendation_user_days, from its own watermarks, rebuilt whole.
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
-- depends_on: {{ ref('int_interactions_enriched') }}

{%- if is_incremental() -%}
{%- set touched = touched_recommendation_days() -%}
{%- endif %}

with

units as (

    select * from {{ ref('recommendation_user_days') }}
    {% if is_incremental() %}
    where activity_date in ({{ touched['rows'] }})
    {% endif %}

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
        -- `users` (a keyword to the linter): the users active in the variant that day
        count(*) as users,  -- noqa: RF04
        sum(is_first_day) as new_users

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
        -- last: a table built before they existed gains them (append_new_columns), null on its old days
        cast(coalesce(impressions.clicked_lists, 0) as {{ dbt.type_bigint() }}) as clicked_lists

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
