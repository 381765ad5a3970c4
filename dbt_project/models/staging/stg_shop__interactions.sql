{#
    One row per event: redeliveries of an event_id collapse into the earliest-loaded copy (the
    de-duplication and why it is partitioned by (event_id, occurred_date):
    macros/deduplicated_interactions.sql, which int_interactions_enriched's incremental run shares).
    A filter on occurred_date reaches the raw scan, where raw's index on the event's UTC day
    (migration 0006) serves it (incremental models read only the days they rebuild).
#}
{{ deduplicated_interactions(source('shop', 'interactions')) }}
