{#
    Every de-duplicated event, with the flags and amounts the marts add up. The first table on the
    way from raw, and its indexes serve the incremental look-ups of every model downstream.
    Incremental, keyed by (occurred_date, event_id), the grain of staging's de-duplication: a run
    reads the raw rows of the days touched by newly loaded ones, and of them de-duplicates (as the
    staging view does, macros/deduplicated_interactions.sql) and writes only the events with a
    delivery loaded after the watermark (new events, and redeliveries, whose last_loaded_at and
    delivery_count change). An event's other columns come from its earliest-loaded copy, which a
    later delivery never changes, so the untouched rows stay exact. The key's index leads with the day: new events
    land on the recent days' index pages, where an index on the random event_id alone took an
    insert on nearly every one of its pages in each run. The index by order covers the events with an
    order only (a post-hook: dbt's index config has no condition). No index on session_id or on
    (user_id, product_id): their random inserts were most of a run's write, and their readers find
    the events another way (the sessions model by a stored session's days, user_item_interactions
    through raw's index by user). An event first loaded after the
    newest load the table holds is new: it is inserted without the merge's look-up (`meta.new_rows`,
    macros/incremental.sql), in the key's order, the order the models that read whole days walk.
#}
{{
    config(
        materialized='incremental',
        on_schema_change='append_new_columns',
        post_hook=[
            {'sql': '{{ retired_indexes([["order_id"], ["session_id"], ["user_id", "product_id"]]) }}', 'transaction': false},
            {'sql': '{{ recommended_events_index() }}', 'transaction': false},
            {'sql': '{{ order_events_index() }}', 'transaction': false},
        ],
        meta={
            'analyze_new_days': {'day_column': 'occurred_date', 'columns': ['occurred_date', 'last_loaded_at']},
            'new_rows': {'loaded': 'first_loaded_at', 'after_stored': 'last_loaded_at', 'insert_order': ['occurred_date', 'event_id']},
        },
    )
}}
{{
    incremental_config(
        ['occurred_date', 'event_id'],
        day_key='occurred_date',
        indexes=[
            {'columns': ['occurred_date', 'event_id'], 'unique': true},
            {'columns': ['last_loaded_at']},
            {'columns': ['first_loaded_at']},
        ],
    )
}}
-- depends_on: {{ source('shop', 'interactions') }}

with

{% if incremental_by_key() %}
-- Keyed by (occurred_date, event_id): only the (re)delivered events of the touched days, de-duplicated
-- as the staging view does but from every delivery of those events alone. Through the view, every
-- raw row of a touched day was sorted, where a day touched by a few late events is most of them.
new_event_deliveries as (

    select raw_rows.*
    from {{ source('shop', 'interactions') }} as raw_rows
    where
        {{ utc_date('raw_rows.occurred_at') }} in ({{ touched_days_from_source(source('shop', 'interactions')) }})
        and raw_rows.event_id in (
            select new_rows.event_id
            from {{ source('shop', 'interactions') }} as new_rows
            where new_rows.loaded_at > {{ incremental_watermark('last_loaded_at') }}
        )

),

interactions as (

    select deduplicated.*
    from ({{ deduplicated_interactions('new_event_deliveries') }}) as deduplicated
    where deduplicated.last_loaded_at > {{ incremental_watermark('last_loaded_at') }}

),
{% else %}
interactions as (

    select * from {{ ref('stg_shop__interactions') }}
    {% if is_incremental() %}
    where occurred_date in ({{ touched_days_from_source(source('shop', 'interactions')) }})
    {% endif %}

),
{% endif %}

enriched as (

    select
        event_id,
        session_id,
        user_id,
        product_id,
        order_id,
        event_type,
        {{ flag("event_type = 'view'") }} as is_view,
        {{ flag("event_type = 'add_to_cart'") }} as is_add_to_cart,
        {{ flag("event_type = 'purchase'") }} as is_purchase,
        quantity,
        unit_price,
        case when event_type = 'purchase' then quantity else 0 end as units_purchased,
        {{ to_money("case when event_type = 'purchase' then quantity * unit_price else 0 end") }}
            as revenue,
        recommendation_variant,
        {{ flag("recommendation_variant is not null") }} as is_recommended,
        occurred_at,
        occurred_date,
        first_loaded_at,
        last_loaded_at,
        delivery_count

    from interactions

)

select * from enriched
{% if not is_incremental() and target.type == 'postgres' %}
-- Stored in day order: the models downstream read whole days, which then sit on few pages (the
-- staging window leaves the rows in event_id order). Spark partitions the table by day instead.
order by occurred_date
{% endif %}
