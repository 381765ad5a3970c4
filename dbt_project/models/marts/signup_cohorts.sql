{#
    Monthly signup cohorts: of the users who signed up in a month, how many came back (had a
    session) and how many bought, 0, 1, 2, ... months after signing up. Dense: every cohort has a
    row for every month from its signup month to the newest month with activity.
    Each input is read once where it is joined and once for its small summary (the users' cohort
    sizes, the distinct activity months), not through a CTE that two readers share: PostgreSQL
    materializes such a CTE, writing every user and every user month to a temporary file first.
    The user months are added up by signup day first and the few day groups by month after
    (cohort_activity). A user month before the signup month counts nowhere: the grid holds no such
    cell, and the left join from the grid leaves it out.
    Incremental on PostgreSQL (macros/signup_cohorts.sql): the months before the first month the
    user months can have changed in since the stored table was counted are carried over from it,
    plus the months of users added since; a changed or removed user makes the run count every cell
    (as Spark always does, and a full refresh).
#}
{{
    config(
        pre_hook="{{ take_users_mark() }}",
        post_hook=["{{ keep_cohorts_mark() }}"],
    )
}}
{%- set mark = cohorts_mark() %}
{%- set recount_from = cohorts_recount_from(mark) if mark else none %}
{%- set before_recount = 'user_months.activity_month < ' ~ recount_from if recount_from else none %}

with

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

{% if mark %}
{#- The users written since the stored table was counted, and whether they are only new ones. #}
written as (

    select
        written.user_id,
        written.signup_at

    from {{ source('shop', 'users') }} as written
    where written.updated_at >= cast('{{ mark.users_mark }}' as {{ type_timestamp_tz() }})

),

counted as (

    select
        coalesce(sum(cohort_size), 0) = {{ mark.users }} + (select count(*) from written) as only_new_users
    from cohort_sizes

),
{% endif %}

cohort_activity as (

    {% if mark -%}
    -- some user changed or went: every cell counted again
    {{ cohort_activity(ref('stg_shop__users'), 'signed_up_at') }}
    where not (select counted.only_new_users from counted)

    union all

    {% if recount_from -%}
    -- the months the user months may have changed in: counted again
    {{ cohort_activity(ref('stg_shop__users'), 'signed_up_at', 'user_months.activity_month >= ' ~ recount_from) }}
    where (select counted.only_new_users from counted)

    union all

    {% endif -%}
    -- the months before them: as stored, plus the new users' months
    select
        carried.cohort_month,
        carried.activity_month,
        carried.active_users,
        carried.purchasing_users,
        carried.revenue

    from {{ this }} as carried
    where
        (select counted.only_new_users from counted)
        {%- if recount_from %}
        and carried.activity_month < {{ recount_from }}
        {%- endif %}

    union all

    {{ cohort_activity('written', 'signup_at', before_recount) }}
    where (select counted.only_new_users from counted)
    {%- else -%}
    {{ cohort_activity(ref('stg_shop__users'), 'signed_up_at') }}
    {%- endif %}

),

activity as (

    select
        cohort_month,
        activity_month,
        cast(sum(active_users) as {{ dbt.type_bigint() }}) as active_users,
        cast(sum(purchasing_users) as {{ dbt.type_bigint() }}) as purchasing_users,
        sum(revenue) as revenue

    from cohort_activity
    group by cohort_month, activity_month

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
{{ keep_cohort_users('cohort_sizes') }}
