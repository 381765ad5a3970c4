{#
    The recommender's input: one row per user and product they interacted with, the count of each
    event type, the first and last interaction and purchase (null when never bought), and a
    weighted implicit-feedback score (weights in dbt_project.yml).

    Incremental, keyed by (user_id, product_id): only the pairs touched by events loaded after the
    watermark are written. Such a pair adds those events to its stored row when every one of them
    was first loaded after the newest load that row counted (max_loaded_at): none of them can be in
    it, since an event counted there was loaded at or before it, and an event's first load never
    moves later. Otherwise (a redelivery of a counted event, or an event loaded inside the
    watermark's overlap, which the stored row may already count) the pair is rebuilt from all its
    events, as is a full refresh. Reading only the new events of most pairs spares a look-up of
    every earlier event of every touched pair.

    A pair of a user above every stored user (one who signed up since, as ids are handed out) has
    no stored row: its stored row is not looked up, and the merge inserts it without a look-up of
    its key (`meta.new_rows`, macros/incremental.sql), after the other rows, in key order.
#}
{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        contract={'enforced': true},
        meta={
            'new_rows': {'loaded': 'user_id', 'after_stored': 'user_id', 'insert_order': ['user_id', 'product_id']},
        },
    )
}}
{{
    incremental_config(
        ['user_id', 'product_id'],
        indexes=[
            {'columns': ['max_loaded_at']},
        ],
    )
}}

-- depends_on: {{ source('shop', 'interactions') }}

with

{% if incremental_by_key() %}
-- Events loaded after the watermark: new ones, and redeliveries of events already counted.
new_events as (

    select *
    from {{ ref('int_interactions_enriched') }}
    where last_loaded_at > {{ incremental_watermark() }}

),

touched_pairs as (

    select
        user_id,
        product_id,
        -- an event without a first load is never known to be new
        min(coalesce(first_loaded_at, {{ watermark_floor() }})) as first_loaded_at

    from new_events
    -- the pairs that may be stored: a user above every stored user has none
    where user_id <= (select max(stored_users.user_id) from {{ this }} as stored_users)
    group by user_id, product_id
    -- In key order: the look-ups below then walk the unique index from one end to the other, each
    -- on the leaf pages the one before it read (in the aggregate's order every one landed elsewhere).
    order by user_id, product_id

),

-- The stored rows of the touched pairs, each looked up in the table's unique index: as a join,
-- PostgreSQL hashed the touched pairs and probed them with every stored row (a scan of the whole
-- table for the fifth of the touched pairs that are stored). `offset 0` keeps the look-up
-- a per-pair subquery (the planner would otherwise flatten it into that join).
stored_pairs as (

    select
        built.*,
        touched_pairs.first_loaded_at <= built.max_loaded_at as is_rebuilt

    from touched_pairs
    cross join lateral (
        select stored_row.*
        from {{ this }} as stored_row
        where
            stored_row.user_id = touched_pairs.user_id
            and stored_row.product_id = touched_pairs.product_id
        -- a fence, not a page: the key is unique, so at most one row and no order to choose
        offset 0  -- noqa: AM09
    ) as built

),

rebuilt_pairs as (

    select
        user_id,
        product_id,
        first_interaction_at,
        last_interaction_at

    from stored_pairs
    where is_rebuilt

),

-- The stored rows that the new events add to.
added_to as (

    select * from stored_pairs
    where not is_rebuilt

),

interactions as (

    select new_events.* from new_events

    union all

    -- A rebuilt pair's other events: those its stored row counted, every one of which occurred
    -- between the row's first and last interaction and has a raw delivery of that user and product
    -- then (its first, whose columns the event keeps). Those deliveries are found through raw's
    -- (user_id, occurred_at) index, which the loader keeps anyway, and their events in enriched by
    -- its unique key: an index of enriched on the pair, random in every run's inserts, served
    -- these few pairs only. `offset 0` keeps each look-up a per-pair subquery, in this order
    -- (flattened, the planner hashed the rebuilt pairs and probed them with every enriched row).
    select events.*
    from rebuilt_pairs
    cross join
        lateral (
            select distinct
                {{ utc_date('deliveries.occurred_at') }} as occurred_date,
                deliveries.event_id
            from {{ source('shop', 'interactions') }} as deliveries
            where
                deliveries.user_id = rebuilt_pairs.user_id
                and deliveries.occurred_at >= rebuilt_pairs.first_interaction_at
                and deliveries.occurred_at <= rebuilt_pairs.last_interaction_at
                and deliveries.product_id = rebuilt_pairs.product_id
            offset 0  -- noqa: AM09
        ) as delivered
    cross join lateral (
        select pair_events.*
        from {{ ref('int_interactions_enriched') }} as pair_events
        where
            pair_events.occurred_date = delivered.occurred_date
            and pair_events.event_id = delivered.event_id
            and pair_events.user_id = rebuilt_pairs.user_id
            and pair_events.product_id = rebuilt_pairs.product_id
            and (pair_events.last_loaded_at > {{ incremental_watermark() }}) is not true
        offset 0  -- noqa: AM09
    ) as events

),
{% else %}
interactions as (

    select * from {{ ref('int_interactions_enriched') }}

),
{% endif %}

pairs as (

    select
        user_id,
        product_id,
        sum(is_view) as views,
        sum(is_add_to_cart) as add_to_carts,
        sum(is_purchase) as purchases,
        sum(units_purchased) as units_purchased,
        min(occurred_at) as first_interaction_at,
        max(occurred_at) as last_interaction_at,
        min(case when is_purchase = 1 then occurred_at end) as first_purchase_at,
        max(case when is_purchase = 1 then occurred_at end) as last_purchase_at,
        max(last_loaded_at) as max_loaded_at

    from interactions
    group by user_id, product_id

),

-- Units bought in the pair's newest purchase: how long that stock lasts drives re-buy timing.
last_purchases as (

    select
        interactions.user_id,
        interactions.product_id,
        sum(interactions.units_purchased) as last_purchase_units

    from interactions
    inner join pairs
        on
            interactions.user_id = pairs.user_id
            and interactions.product_id = pairs.product_id
            and interactions.occurred_at = pairs.last_purchase_at
    -- (the join drops pairs without a purchase anyway; said here, the planner drops them before it
    -- sorts or hashes the pairs, most of which never bought)
    where interactions.is_purchase = 1 and pairs.last_purchase_at is not null
    group by interactions.user_id, interactions.product_id

),

{% if incremental_by_key() %}
-- New events added to the stored rows (added_to); a pair without one is the new events' (or all
-- its events') own row. least/greatest skip nulls, as min/max over the events do.
pairs_with_stored as (

    select
        pairs.user_id,
        pairs.product_id,
        pairs.views + coalesce(added_to.views, 0) as views,
        pairs.add_to_carts + coalesce(added_to.add_to_carts, 0) as add_to_carts,
        pairs.purchases + coalesce(added_to.purchases, 0) as purchases,
        pairs.units_purchased + coalesce(added_to.units_purchased, 0) as units_purchased,
        least(pairs.first_interaction_at, added_to.first_interaction_at) as first_interaction_at,
        greatest(pairs.last_interaction_at, added_to.last_interaction_at) as last_interaction_at,
        least(pairs.first_purchase_at, added_to.first_purchase_at) as first_purchase_at,
        greatest(pairs.last_purchase_at, added_to.last_purchase_at) as last_purchase_at,
        -- the newest purchase's units: the new events', the stored row's, or both at the same moment
        case
            when added_to.last_purchase_at is null or pairs.last_purchase_at > added_to.last_purchase_at
                then last_purchases.last_purchase_units
            when pairs.last_purchase_at is null or pairs.last_purchase_at < added_to.last_purchase_at
                then added_to.last_purchase_units
            else last_purchases.last_purchase_units + added_to.last_purchase_units
        end as last_purchase_units,
        greatest(pairs.max_loaded_at, added_to.max_loaded_at) as max_loaded_at

    from pairs
    left join last_purchases
        on
            pairs.user_id = last_purchases.user_id
            and pairs.product_id = last_purchases.product_id
    left join added_to
        on
            pairs.user_id = added_to.user_id
            and pairs.product_id = added_to.product_id

),
{% else %}
pairs_with_stored as (

    select
        pairs.*,
        last_purchases.last_purchase_units

    from pairs
    left join last_purchases
        on
            pairs.user_id = last_purchases.user_id
            and pairs.product_id = last_purchases.product_id

),
{% endif %}

final as (

    select
        user_id,
        product_id,
        cast(views as {{ dbt.type_bigint() }}) as views,
        cast(add_to_carts as {{ dbt.type_bigint() }}) as add_to_carts,
        cast(purchases as {{ dbt.type_bigint() }}) as purchases,
        cast(units_purchased as {{ dbt.type_bigint() }}) as units_purchased,
        first_interaction_at,
        last_interaction_at,
        first_purchase_at,
        last_purchase_at,
        cast(last_purchase_units as {{ dbt.type_bigint() }}) as last_purchase_units,
        cast(
            views * {{ var('feedback_weight_view') }}
            + add_to_carts * {{ var('feedback_weight_add_to_cart') }}
            + purchases * {{ var('feedback_weight_purchase') }}
            as numeric(18, 4)
        ) as feedback_score,
        max_loaded_at

    from pairs_with_stored

)

select * from final
{% if incremental_by_key() %}
-- In key order: the merge looks each row up in the unique index and writes it there, and
-- neighbouring keys share that index's pages.
order by user_id, product_id
{% endif %}
