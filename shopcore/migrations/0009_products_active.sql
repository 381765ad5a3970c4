-- Live integration (the API's PUT /products, POST /products): a product the shop stops selling is
-- deactivated rather than deleted (its history stays), and the API's workers learn of changed
-- products by polling for rows whose updated_at is past what they saw.
alter table raw.products add column active boolean not null default true;
create index products_updated_at_idx on raw.products (updated_at);
