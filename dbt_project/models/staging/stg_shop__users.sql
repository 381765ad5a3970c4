with

source as (

    select * from {{ source('shop', 'users') }}

),

renamed as (

    select
        cast(user_id as {{ dbt.type_bigint() }}) as user_id,
        lower(trim(email)) as email,
        trim(full_name) as full_name,
        upper(trim(country)) as country_code,
        lower(trim(channel)) as acquisition_channel,
        signup_at as signed_up_at,
        cast(signup_at as date) as signed_up_date

    from source

)

select * from renamed
