-- The raw data contract (DESIGN.md): the boundary between producers and the warehouse.
create schema if not exists raw;

create table raw.users (
    user_id    bigint primary key,
    email      text not null,
    full_name  text not null,
    country    text not null check (country ~ '^[A-Z]{2}$'),
    channel    text not null,
    signup_at  timestamptz not null
);

create table raw.products (
    product_id bigint primary key,
    sku        text not null unique,
    name       text not null,
    category   text not null,
    brand      text not null,
    price      numeric(10, 2) not null check (price > 0),
    created_at timestamptz not null,
    updated_at timestamptz not null
);

-- Delivery is at-least-once: no unique constraint on event_id, staging de-duplicates.
create table raw.interactions (
    event_id               uuid not null,
    session_id             uuid not null,
    user_id                bigint not null,
    product_id             bigint not null,
    event_type             text not null,
    quantity               integer not null check (quantity >= 1),
    unit_price             numeric(10, 2) not null,
    order_id               uuid,
    recommendation_variant text,
    occurred_at            timestamptz not null,
    loaded_at              timestamptz not null default now()
);

-- Incremental models select newly loaded rows; the API looks up a user's newest events.
create index interactions_loaded_at_idx on raw.interactions (loaded_at);
create index interactions_user_occurred_idx on raw.interactions (user_id, occurred_at);
