-- Where each complete, successful warehouse build (`shop build` and every caller of
-- shop.dbt_runner.build) started reading raw: the newest raw.interactions.loaded_at when it began.
-- The next build's data tests then check the rows loaded since (see shop/build_marks.py), rather
-- than a fixed number of recent days, which misses rows when builds are days apart and re-checks
-- old rows when they are seconds apart.
create table shop_meta.warehouse_builds (
    build_id           bigint generated always as identity primary key,
    finished_at        timestamptz not null default now(),
    full_refresh       boolean not null,
    raw_loaded_through timestamptz  -- null: raw.interactions was empty
);
