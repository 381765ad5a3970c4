-- A world like real shops (simulator/world.py documents the formula): every user and product has
-- a position in a latent taste space, products have complements, and prices move.
-- One vector (all of the taste space's dimensions) per user and per product.
create table truth.user_taste (
    user_id  bigint primary key,
    taste    double precision[] not null
);

create table truth.product_taste (
    product_id  bigint primary key,
    taste       double precision[] not null
);

create table truth.product_complements (
    product_id     bigint not null,
    complement_id  bigint not null,
    primary key (product_id, complement_id)
);

-- Piecewise-constant price history: the price from valid_from until the product's next row.
-- The first row of each product is its base price (the list price at the window start).
create table truth.product_prices (
    product_id    bigint not null,
    valid_from    timestamptz not null,
    price_cents   bigint not null,
    is_promotion  boolean not null,
    primary key (product_id, valid_from)
);

-- The true affinity now adds the taste term: the dot product of the user's and the product's
-- taste vectors.
create or replace view truth.user_product_affinity as
select
    tu.user_id,
    tp.product_id,
    coalesce(uca.affinity, 0)
    + coalesce(uba.affinity, 0)
    + tp.quality
    - tu.price_sensitivity * tp.log_relative_price
    + coalesce(taste.term, 0) as affinity
from truth.users as tu
cross join truth.products as tp
inner join raw.products as p on tp.product_id = p.product_id
left join truth.user_category_affinity as uca
    on tu.user_id = uca.user_id and p.category = uca.category
left join truth.user_brand_affinity as uba
    on tu.user_id = uba.user_id and p.brand = uba.brand
left join truth.user_taste as ut on tu.user_id = ut.user_id
left join truth.product_taste as pt on tp.product_id = pt.product_id
left join lateral (
    select sum(v.u_value * v.p_value) as term
    from unnest(ut.taste, pt.taste) as v (u_value, p_value)
) as taste on true;
