{#
    Each product's mean event price per day, for the average price check of `alerts`: the mean over
    the day's products of their mean price, so that a few long visits to dear products do not move
    it (a mean over events does, on a small shop), while a category priced a hundred times over
    does. Incremental, keyed by (event_date, product_id): the (day, product) rows touched by newly
    loaded events are rebuilt from all their events (an event's price never changes, so a rebuilt
    key never loses its row).
    `mean_price_digits`: mean_price as the decimal `alerts` averages exactly (a float sum depends on
    the rows' order), cast once when the row is built rather than on every read of weeks of rows.
    A table stored without it gains the column empty; its readers cast those rows' mean_price.
#}
{{
    config(
        materialized='incremental',
        pre_hook="{{ bitmap_scans_only() }}",
        on_schema_change='append_new_columns',
    )
}}
{{
    incremental_config(
        ['event_date', 'product_id'],
        day_key='event_date',
        indexes=[{'columns': ['event_date', 'product_id'], 'unique': true}],
    )
}}
{%- do bitmap_scans_while_compiling() %}

with

interactions as (

    select * from {{ ref('int_interactions_enriched') }}
    {% if is_incremental() %}
    where
        occurred_date in ({{ touched_event_days() }})
        and {{ touched_event_keys(['occurred_date', 'product_id']) }}
    {% endif %}

),

daily as (

    select
        occurred_date as event_date,
        product_id,
        avg(unit_price) as mean_price,
        count(unit_price) as priced_events,
        max(last_loaded_at) as max_loaded_at

    from interactions
    where unit_price is not null
    group by occurred_date, product_id

)

select
    event_date,
    product_id,
    cast(mean_price as double precision) as mean_price,
    cast(cast(mean_price as double precision) as numeric) as mean_price_digits,
    cast(priced_events as {{ dbt.type_bigint() }}) as priced_events,
    max_loaded_at

from daily
-- Stored in the order of the key's index: `alerts` reads weeks of days through it, which then sit
-- on few pages (in the aggregate's order each row fetched was on another page).
order by event_date, product_id
