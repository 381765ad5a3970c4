with

source as (

    select * from {{ source('shop', 'products') }}

),

renamed as (

    select
        cast(product_id as {{ dbt.type_bigint() }}) as product_id,
        trim(sku) as sku,
        trim(name) as product_name,
        -- an imported shop may not know a product's category: an explicit 'unknown' group, so every
        -- category breakdown (funnel, order lines, dashboard filters) keeps its rows
        coalesce(nullif(lower(trim(category)), ''), 'unknown') as category,
        nullif(trim(brand), '') as brand,
        cast(price as numeric(10, 2)) as list_price,
        -- false once the shop stops selling it (the API's PUT /products): kept for its history,
        -- never recommended
        coalesce(active, true) as active,
        created_at,
        updated_at

    from source

)

select * from renamed
