-- Ground truth written by the simulator: the parameters of every user's real tastes, so that
-- recommenders can be judged against what users want, not only against what they happened to do.
create schema if not exists truth;

-- One row per simulation run that wrote this database; the newest row is the world in force.
create table truth.simulation_runs (
    run_id        bigserial primary key,
    seed          bigint not null,
    parameters    jsonb not null,
    mode          text not null check (mode in ('history', 'append', 'live')),
    window_start  timestamptz not null,
    window_end    timestamptz not null,
    events        bigint not null,
    created_at    timestamptz not null default now()
);

create table truth.users (
    user_id            bigint primary key,
    price_sensitivity  double precision not null,
    activity_rate      double precision not null
);

create table truth.user_category_affinity (
    user_id   bigint not null,
    category  text not null,
    affinity  double precision not null,
    primary key (user_id, category)
);

create table truth.user_brand_affinity (
    user_id   bigint not null,
    brand     text not null,
    affinity  double precision not null,
    primary key (user_id, brand)
);

create table truth.products (
    product_id          bigint primary key,
    popularity          double precision not null,
    quality             double precision not null,
    log_relative_price  double precision not null,
    is_consumable       boolean not null,
    repurchase_days     double precision
);
