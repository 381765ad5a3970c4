{#
    How fresh the raw data is, for the dashboard's data health page (which may not read raw.*):
    one row per raw table with the newest time it holds. A view, so it is always current; each
    max() is cheap (raw.interactions and raw.served_recommendations by their loaded_at index, the
    others are small). newest_at is null while a table is empty.
#}
{{ config(materialized='view') }}

with

interactions as (

    select
        cast('raw.interactions' as {{ dbt.type_string() }}) as source_table,
        max(loaded_at) as newest_at

    from {{ source('shop', 'interactions') }}

),

served_recommendations as (

    select
        cast('raw.served_recommendations' as {{ dbt.type_string() }}) as source_table,
        max(loaded_at) as newest_at

    from {{ source('shop', 'served_recommendations') }}

),

users as (

    select
        cast('raw.users' as {{ dbt.type_string() }}) as source_table,
        max(signup_at) as newest_at

    from {{ source('shop', 'users') }}

),

products as (

    select
        cast('raw.products' as {{ dbt.type_string() }}) as source_table,
        max(updated_at) as newest_at

    from {{ source('shop', 'products') }}

),

final as (

    select * from interactions
    union all
    select * from served_recommendations
    union all
    select * from users
    union all
    select * from products

)

select * from final
