-- Category affinities as one array per user. Stored as one row per user and category, a shop of
-- many accounts wrote millions of rows whose keys (user, category text) and primary key cost far
-- more to load than the values; one array per user holds the same values.
-- truth.categories names the arrays' positions (1-based, like PostgreSQL's arrays).
create table truth.categories (
    category_index  integer primary key,
    category        text not null unique
);

drop view truth.user_product_affinity;

-- Existing rows keep their values: categories in name order, one array per user.
insert into truth.categories (category_index, category)
select row_number() over (order by category), category
from (select distinct category from truth.user_category_affinity) as names;

alter table truth.user_category_affinity rename to user_category_affinity_rows;

create table truth.user_category_affinity (
    user_id   bigint primary key,
    affinity  double precision[] not null
);

insert into truth.user_category_affinity (user_id, affinity)
select u.user_id, array_agg(coalesce(r.affinity, 0) order by c.category_index)
from (select distinct user_id from truth.user_category_affinity_rows) as u
cross join truth.categories as c
left join truth.user_category_affinity_rows as r
    on u.user_id = r.user_id and c.category = r.category
group by u.user_id;

drop table truth.user_category_affinity_rows;

-- The same formula as 0010: the category term is the user's array at the product's category.
create view truth.user_product_affinity as
select
    tu.user_id,
    tp.product_id,
    coalesce(uca.affinity[tc.category_index], 0)
    + coalesce(uba.affinity, 0)
    + tp.quality
    - tu.price_sensitivity * tp.log_relative_price
    + coalesce(taste.term, 0) as affinity
from truth.users as tu
cross join truth.products as tp
inner join raw.products as p on tp.product_id = p.product_id
left join truth.categories as tc on p.category = tc.category
left join truth.user_category_affinity as uca on tu.user_id = uca.user_id
left join truth.user_brand_affinity as uba
    on tu.user_id = uba.user_id and p.brand = uba.brand
left join truth.user_taste as ut on tu.user_id = ut.user_id
left join truth.product_taste as pt on tp.product_id = pt.product_id
left join lateral (
    select sum(v.u_value * v.p_value) as term
    from unnest(ut.taste, pt.taste) as v (u_value, p_value)
) as taste on true;
