-- The UTC day of each event, indexed: the warehouse rebuilds whole days, and its staging view
-- (stg_shop__interactions) de-duplicates per (day, event_id), so a filter on the day reaches
-- through the view to this index. An incremental build then reads the few days that new rows
-- touched instead of scanning every event ever loaded. Events arrive roughly in time order, so
-- the index grows at its end and costs the loaders little.
create index interactions_event_day_idx on raw.interactions (cast(occurred_at at time zone 'UTC' as date));
