{#
    Per recommender variant and day: recommendation lists served (impressions, from the API's log)
    and what followed them (events carrying the variant): clicks (views), add-to-carts, purchases
    and attributed revenue, with click-through = clicks / impressions. A full outer join on day and
    variant: a variant with events but no served lists that day (or the reverse) still has a row.
    Incremental (keyed by activity_date, variant): the days touched by newly loaded recommended
    events or served lists are rebuilt whole (other events change no row of it). Each side keeps
    its own watermark, since the two raw tables are loaded independently (history is back-filled
    with past load times).
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
{%- endif %}

with

served as (

    select * from {{ ref('stg_shop__served_recommendations') }}
    {% if is_incremental() %}
    where
        served_date in ({{ touched_event_days_list }})
        or served_date in ({{ touched_served_days_list }})
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
    )
    {% endif %}

),

impressions as (

    select
        served_date as activity_date,
        variant,
        count(*) as impressions,
        max(loaded_at) as max_served_loaded_at

    from served
    group by served_date, variant

),

outcomes as (

    select
        occurred_date as activity_date,
        recommendation_variant as variant,
        sum(is_view) as clicks,
        sum(is_add_to_cart) as add_to_carts,
        sum(is_purchase) as purchases,
        sum(revenue) as revenue,
        max(last_loaded_at) as max_event_loaded_at

    from interactions
    group by occurred_date, recommendation_variant

),

final as (

    select
        coalesce(impressions.activity_date, outcomes.activity_date) as activity_date,
        coalesce(impressions.variant, outcomes.variant) as variant,
        cast(coalesce(impressions.impressions, 0) as {{ dbt.type_bigint() }}) as impressions,
        cast(coalesce(outcomes.clicks, 0) as {{ dbt.type_bigint() }}) as clicks,
        cast(coalesce(outcomes.add_to_carts, 0) as {{ dbt.type_bigint() }}) as add_to_carts,
        cast(coalesce(outcomes.purchases, 0) as {{ dbt.type_bigint() }}) as purchases,
        {{ to_money('coalesce(outcomes.revenue, 0)') }} as revenue,
        {{ safe_ratio('coalesce(outcomes.clicks, 0)', 'impressions.impressions') }} as click_through,
        impressions.max_served_loaded_at,
        outcomes.max_event_loaded_at

    from impressions
    full outer join outcomes
        on
            impressions.activity_date = outcomes.activity_date
            and impressions.variant = outcomes.variant

)

select * from final
