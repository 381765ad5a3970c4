-- What the live demo's refresh loop did: one row per incremental warehouse build (and per
-- scheduled retrain) with its outcome, so the dashboard's Data health page can show whether the
-- warehouse keeps up. Operational metadata, not shop data: it lives beside the migrations.
create table shop_meta.refresh_runs (
    run_id      bigint generated always as identity primary key,
    kind        text not null check (kind in ('build', 'train')),
    attempt     integer not null check (attempt >= 1),  -- 2 and up: retries after a failure
    started_at  timestamptz not null,
    finished_at timestamptz not null,
    succeeded   boolean not null,
    models      integer,
    data_tests  integer,
    failures    integer,
    message     text
);

create index refresh_runs_started_at_idx on shop_meta.refresh_runs (started_at);
