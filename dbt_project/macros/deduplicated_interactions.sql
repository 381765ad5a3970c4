{#
    Raw event deliveries -> one row per event: redeliveries of an event_id collapse into the
    earliest-loaded copy, with the newest load and the number of deliveries. Nulls sort last
    explicitly: PostgreSQL and Spark differ in their default. The window is partitioned by
    (event_id, occurred_date): a redelivery is the same event, so its day is the same, and having
    the day in the partition lets a filter on occurred_date reach the raw scan below, where raw's
    index on the event's UTC day (migration 0006) serves it. The day comes second so that a scan of
    every day sorts in memory rather than walking that index. Two copies of one event_id on
    different days would survive as two rows and fail the unique test on event_id.

    `source_rows`: raw.interactions, or a parenthesized query of its rows that holds every delivery
    of each event it holds (stg_shop__interactions reads them all; int_interactions_enriched's
    incremental run only the deliveries of events with a new one).
    `day_first`: partition by (occurred_date, event_id) instead, the same rows. For a reader of a few
    whole days through raw's day index, which returns them day by day: the sort then takes one day at
    a time (an incremental sort) rather than all the days' rows at once.
#}
{% macro deduplicated_interactions(source_rows, day_first=false) -%}
{%- set delivery_partition = 'occurred_date, event_id' if day_first else 'event_id, occurred_date' -%}
with

source as (

    select * from {{ source_rows }} as source_rows

),

renamed as (

    select
        event_id,
        session_id,
        cast(user_id as {{ dbt.type_bigint() }}) as user_id,
        cast(product_id as {{ dbt.type_bigint() }}) as product_id,
        {{ normalize_event_type('event_type') }} as event_type,
        cast(quantity as {{ dbt.type_int() }}) as quantity,
        cast(unit_price as numeric(10, 2)) as unit_price,
        order_id,
        nullif(trim(recommendation_variant), '') as recommendation_variant,
        occurred_at,
        {{ utc_date('occurred_at') }} as occurred_date,
        loaded_at

    from source

),

deliveries as (

    select
        *,
        row_number() over (
            partition by {{ delivery_partition }}
            order by
                loaded_at, occurred_at, session_id, user_id, product_id, event_type,
                quantity, unit_price, order_id nulls last, recommendation_variant nulls last
        ) as delivery_rank,
        count(*) over (partition by {{ delivery_partition }}) as delivery_count,
        max(loaded_at) over (partition by {{ delivery_partition }}) as last_loaded_at

    from renamed

),

final as (

    select
        event_id,
        session_id,
        user_id,
        product_id,
        event_type,
        quantity,
        unit_price,
        order_id,
        recommendation_variant,
        occurred_at,
        occurred_date,
        loaded_at as first_loaded_at,
        last_loaded_at,
        delivery_count

    from deliveries
    where delivery_rank = 1

)

select * from final
{%- endmacro %}
