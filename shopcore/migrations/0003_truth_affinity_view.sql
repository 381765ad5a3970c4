-- The true affinity of any user for any product, from the simulator's parameters
-- (simulator/world.py documents the same formula): filter on user_id to score one user's catalogue.
create view truth.user_product_affinity as
select
    tu.user_id,
    tp.product_id,
    coalesce(uca.affinity, 0)
    + coalesce(uba.affinity, 0)
    + tp.quality
    - tu.price_sensitivity * tp.log_relative_price as affinity
from truth.users as tu
cross join truth.products as tp
inner join raw.products as p on tp.product_id = p.product_id
left join truth.user_category_affinity as uca
    on tu.user_id = uca.user_id and p.category = uca.category
left join truth.user_brand_affinity as uba
    on tu.user_id = uba.user_id and p.brand = uba.brand;
