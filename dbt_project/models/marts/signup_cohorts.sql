{#
    Monthly signup cohorts: of the users who signed up in a month, how many came back (had a
    session) and how many bought, 0, 1, 2, ... months after signing up. Dense: every cohort has a
    row for every month from its signup month to the newest month with activity.
    Each input is read once where it is joined and once for its small summary (the users' cohort
    sizes, the distinct activity months), not through a CTE that two readers share: PostgreSQL
    materializes such a CTE, writing every user and every user month to a temporary file first.
#}
with

users as (

    select
        user_id,
        cast({{ dbt.date_trunc('month', 'signed_up_at') }} as date) as cohort_month

    from {{ ref('stg_shop__users') }}

),

cohort_sizes as (

    select
        signups.cohort_month,
        count(*) as cohort_size

    from (
        select cast({{ dbt.date_trunc('month', 'signed_up_at') }} as date) as cohort_month
        from {{ ref('stg_shop__users') }}
    ) as signups
    group by signups.cohort_month

),

activity_months as (

    select distinct activity_month from {{ ref('int_activity_aggregated_to_user_months') }}

),

grid as (

    select
        cohort_sizes.cohort_month,
        cohort_sizes.cohort_size,
        activity_months.activity_month

    from cohort_sizes
    inner join activity_months
        on cohort_sizes.cohort_month <= activity_months.activity_month

),

activity as (

    select
        users.cohort_month,
        user_months.activity_month,
        sum({{ flag('user_months.sessions > 0') }}) as active_users,
        sum({{ flag('user_months.orders > 0') }}) as purchasing_users,
        sum(user_months.revenue) as revenue

    from {{ ref('int_activity_aggregated_to_user_months') }} as user_months
    inner join users
        on user_months.user_id = users.user_id
    where user_months.activity_month >= users.cohort_month
    group by users.cohort_month, user_months.activity_month

),

final as (

    select
        grid.cohort_month,
        grid.activity_month,
        {{ dbt.datediff('grid.cohort_month', 'grid.activity_month', 'month') }} as months_since_signup,
        grid.cohort_size,
        coalesce(activity.active_users, 0) as active_users,
        coalesce(activity.purchasing_users, 0) as purchasing_users,
        {{ to_money('coalesce(activity.revenue, 0)') }} as revenue,
        {{ safe_ratio('coalesce(activity.active_users, 0)', 'grid.cohort_size') }} as retention_rate,
        {{ safe_ratio('coalesce(activity.purchasing_users, 0)', 'grid.cohort_size') }}
            as purchase_retention_rate

    from grid
    left join activity
        on
            grid.cohort_month = activity.cohort_month
            and grid.activity_month = activity.activity_month

)

select * from final
