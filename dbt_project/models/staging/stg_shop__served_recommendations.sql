{#
    One row per recommendation list the API served. The log is written in batches, so a retried
    batch may deliver a request twice: copies of a request_id collapse into the earliest-loaded one.
    Partitioned by (served_date, request_id), like stg_shop__interactions, so that a filter on
    served_date reaches the raw scan below.
#}
with

source as (

    select * from {{ source('shop', 'served_recommendations') }}

),

renamed as (

    select
        request_id,
        cast(user_id as {{ dbt.type_bigint() }}) as user_id,
        trim(variant) as variant,
        model_id,
        trim(strategy) as strategy,
        product_ids,
        variant_weights,
        served_at,
        cast(served_at as date) as served_date,
        loaded_at

    from source

),

deliveries as (

    select
        *,
        row_number() over (
            partition by served_date, request_id
            order by loaded_at, served_at, user_id, variant, model_id nulls last, strategy
        ) as delivery_rank

    from renamed

),

final as (

    select
        request_id,
        user_id,
        variant,
        model_id,
        strategy,
        product_ids,
        variant_weights,
        served_at,
        served_date,
        loaded_at

    from deliveries
    where delivery_rank = 1

)

select * from final
