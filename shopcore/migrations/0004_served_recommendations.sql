-- Recommendations the API served (one row per response), written off the request path in
-- batches, so that later work can measure click-through per variant: join the products here to
-- the user's later raw.interactions (recommendation_variant says which suggestion led there).
create table raw.served_recommendations (
    request_id  uuid not null,
    user_id     bigint not null,
    variant     text not null,
    model_id    text,
    strategy    text not null,
    product_ids bigint[] not null,
    served_at   timestamptz not null,
    loaded_at   timestamptz not null default now()
);

create index served_recommendations_loaded_at_idx on raw.served_recommendations (loaded_at);
create index served_recommendations_user_served_idx on raw.served_recommendations (user_id, served_at);
