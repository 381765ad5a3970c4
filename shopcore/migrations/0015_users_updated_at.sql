-- A change marker on raw.users: when the row was last inserted or changed. The warehouse's table of
-- users (int_users_joined_to_activity) rebuilds only the users written since its previous build,
-- instead of comparing every user with its stored row. One home for the marker, whoever writes:
-- an insert takes the default (the simulator's COPY, the importer, the API name no updated_at), an
-- update (the API's and the importer's upserts included) passes the trigger. now() is the writing
-- transaction's start, as for raw.interactions.loaded_at: the warehouse re-reads the same overlap
-- before its watermark for writers that commit late.
alter table raw.users add column updated_at timestamptz not null default now();

create function raw.users_touch_updated_at() returns trigger
language plpgsql as $$
begin
    new.updated_at := now();
    return new;
end
$$;

create trigger users_touch_updated_at before update on raw.users
for each row execute function raw.users_touch_updated_at();

create index users_updated_at_idx on raw.users (updated_at);
