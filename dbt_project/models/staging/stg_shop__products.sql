with

source as (

    select * from {{ source('shop', 'products') }}

),

renamed as (

    select
        cast(product_id as {{ dbt.type_bigint() }}) as product_id,
        trim(sku) as sku,
        trim(name) as product_name,
        lower(trim(category)) as category,
        trim(brand) as brand,
        cast(price as numeric(10, 2)) as list_price,
        created_at,
        updated_at

    from source

)

select * from renamed
