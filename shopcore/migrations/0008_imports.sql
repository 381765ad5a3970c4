-- Real shops' data (`shop import`, importer/): what a real source may not know becomes NULL, and every
-- import and every row it refused are recorded.
--
-- Relaxed: a column keeps its meaning; NULL now says "the source does not know". The checks stay
-- (a known price is still > 0, a known country still two capital letters, a known sku still unique).
alter table raw.users alter column email drop not null;
alter table raw.users alter column full_name drop not null;
alter table raw.users alter column country drop not null;
alter table raw.users alter column channel drop not null;

alter table raw.products alter column sku drop not null;
alter table raw.products alter column name drop not null;
alter table raw.products alter column category drop not null;
alter table raw.products alter column brand drop not null;
alter table raw.products alter column price drop not null;

-- The price at event time, when the source records one (RetailRocket's events do not).
alter table raw.interactions alter column unit_price drop not null;

-- One row per committed import (a dry run or a rolled-back import leaves none).
create table shop_meta.imports (
    import_id      uuid primary key,
    started_at     timestamptz not null,
    finished_at    timestamptz not null,
    source_format  text not null,
    files          jsonb not null,
    rows_read      bigint not null,
    events_new     bigint not null,
    events_present bigint not null,
    rows_rejected  bigint not null,
    rows_skipped   bigint not null
);

-- Every row an import refused: which file and line, why, and the row as read.
create table raw.rejected_rows (
    import_id   uuid not null references shop_meta.imports (import_id),
    source_file text not null,
    line        bigint,
    reason      text not null,
    raw_text    text,
    rejected_at timestamptz not null default now()
);
create index rejected_rows_import_idx on raw.rejected_rows (import_id);
