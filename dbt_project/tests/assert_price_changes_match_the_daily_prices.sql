{#
    Each price change is what the daily prices say: its new price is the product's price on
    changed_on, its previous price (a different one) the price on previous_price_seen_on, an earlier
    day; its direction follows the prices; its conversions are shares. One pass over the changes
    with two look-ups each in the daily table's unique index, so it stays cheap on every build. The
    daily table is joined twice by name: a CTE read twice is materialised by PostgreSQL, which then
    hashed every daily row twice instead of looking the changes up.
    Without --full-refresh, only the changes built from recently loaded daily rows (their
    max_loaded_at covers the days of both prices): the others are rows an earlier build checked.
    (Its key, product_id and changed_on, is tested unique in _marts__models.yml.)
#}
with

changes as (

    select * from {{ ref('price_changes') }}
    where {{ recently_loaded_filter('max_loaded_at', ref('price_changes')) }}

)

select
    changes.product_id,
    changes.changed_on

from changes
left join {{ ref('product_daily_performance') }} as on_change
    on
        changes.product_id = on_change.product_id
        and changes.changed_on = on_change.activity_date
left join {{ ref('product_daily_performance') }} as before_change
    on
        changes.product_id = before_change.product_id
        and changes.previous_price_seen_on = before_change.activity_date
where
    on_change.price is null
    or before_change.price is null
    or on_change.price <> changes.new_price
    or before_change.price <> changes.previous_price
    or changes.new_price = changes.previous_price
    or not changes.previous_price_seen_on < changes.changed_on
    or changes.direction <> case when changes.new_price > changes.previous_price then 'increase' else 'decrease' end
    or changes.conversion_before < 0 or changes.conversion_before > 1
    or changes.conversion_after < 0 or changes.conversion_after > 1
    or changes.units_before < 0 or changes.units_after < 0
