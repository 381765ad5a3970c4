-- Incidents the simulator injected on request (`shop simulate --incident`, simulator/injection.py):
-- what went wrong, when, where, and how many raw rows it touched, so that the warehouse's checks
-- can be scored against the truth. Absent (empty) for real shops.
create table truth.incidents (
    incident_id    bigserial primary key,
    -- The truth.simulation_runs row of the load that injected it (a live stream's is set when it stops).
    run_id         bigint,
    kind           text not null check (kind in (
        'tracking-outage', 'duplicate-storm', 'late-burst', 'price-bug', 'checkout-break', 'bot-traffic'
    )),
    -- The window: on occurred_at, except a duplicate storm's, which is on loaded_at.
    starts_at      timestamptz not null,
    ends_at        timestamptz not null,
    -- The one category it is confined to (tracking-outage, price-bug); null: every category.
    category       text,
    -- Rows it dropped (outage, checkout-break), added (storm copies, bot views), delayed
    -- (late-burst) or mispriced (price-bug); a live stream updates it as it goes.
    rows_affected  bigint not null default 0,
    -- The spec as resolved and the kind's parameters (copies, factor, keep, the late rows'
    -- arrival window, the bot's user_id and views).
    detail         jsonb not null default '{}'::jsonb,
    created_at     timestamptz not null default now(),
    check (ends_at > starts_at)
);

create index incidents_starts_at_idx on truth.incidents (starts_at);
