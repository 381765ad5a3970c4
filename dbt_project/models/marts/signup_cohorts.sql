{#
    Monthly signup cohorts: of the users who signed up in a month, how many came back (had a
    session) and how many bought, 0, 1, 2, ... months after signing up. Dense: every cohort has a
    row for every month from its signup month to the newest month with activity.
    Each input is read once where it is joined and once for its small summary (the users' cohort
    sizes, the distinct activity months), not through a CTE that two readers share: PostgreSQL
    materializes such a CTE, writing every user and every user month to a temporary file first.
    The user months are added up by signup day first and the few day groups by month after: the
    month of a timestamp with a time zone is costly to compute, and was computed for every user and
    again for every user month (in the join's filter and in the grouping). A user month before the
    signup month counts nowhere: the grid holds no such cell, and the left join from the grid
    leaves it out (a filter on the user months did the same, row by row).
#}
with

users as (

    select
        user_id,
        cast(signed_up_at as date) as signup_date

    from {{ ref('stg_shop__users') }}

),

cohort_sizes as (

    select
        signups.cohort_month,
        cast(sum(signups.signups) as {{ dbt.type_bigint() }}) as cohort_size

    from (
        select
            cast({{ dbt.date_trunc('month', 'signup_days.signup_date') }} as date) as cohort_month,
            signup_days.signups

        from (
            select
                cast(signed_up_at as date) as signup_date,
                count(*) as signups
            from {{ ref('stg_shop__users') }}
            group by cast(signed_up_at as date)
        ) as signup_days
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

activity_by_signup_day as (

    select
        users.signup_date,
        user_months.activity_month,
        sum({{ flag('user_months.sessions > 0') }}) as active_users,
        sum({{ flag('user_months.orders > 0') }}) as purchasing_users,
        sum(user_months.revenue) as revenue

    from {{ ref('int_activity_aggregated_to_user_months') }} as user_months
    inner join users
        on user_months.user_id = users.user_id
    group by users.signup_date, user_months.activity_month

),

activity as (

    select
        cohort_days.cohort_month,
        cohort_days.activity_month,
        cast(sum(cohort_days.active_users) as {{ dbt.type_bigint() }}) as active_users,
        cast(sum(cohort_days.purchasing_users) as {{ dbt.type_bigint() }}) as purchasing_users,
        sum(cohort_days.revenue) as revenue

    from (
        select
            cast({{ dbt.date_trunc('month', 'signup_date') }} as date) as cohort_month,
            activity_month,
            active_users,
            purchasing_users,
            revenue
        from activity_by_signup_day
    ) as cohort_days
    group by cohort_days.cohort_month, cohort_days.activity_month

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
