{#
    signup_cohorts' incremental pass (PostgreSQL). The table is rewritten every build (it is a few
    dozen cells), but its cells are added up again from the user months only from the earliest
    month a build can have changed; the months before it are carried over from the stored table.

    What the stored table counted is kept in its comment (keep_cohorts_mark, a post-hook in the
    statement's transaction): the users it counted, the mark of users_written_since_mark (taken by
    take_users_mark before the read) and the newest load of the user months it read.

    - User months: a build rebuilds a user's months from the earliest month of a newly loaded
      session or order on, and that month's rebuilt row has a load after the user months'
      watermark; every month it deletes or rewrites is from then on (a session or an order only
      moves earlier). So the months from the earliest month holding a row loaded after the stored
      newest load (less the watermark's overlap) are counted again for every cohort; the months
      before it are as they were.
    - Users: the users written since the mark are new or changed. When the users counted now are
      the stored count plus those written, none was removed and every written one is new (one
      counted before and written again would be counted twice), so each earlier cell is the stored
      one plus the new users' months. Otherwise (a changed signup, a removed user, a writer that
      committed inside the mark's margin) every cell is counted again, as in a full build. The
      check and both reads run in the model's one statement: one snapshot of raw.users.
#}

{#
    What the stored table counted, read from its comment, or none when this run counts every cell:
    a full refresh, no stored table, no comment (a table built before the pass existed), another
    engine (Spark rewrites the table whole), or no query to run (parsing, unit tests). Returns
    {'users': n, 'users_mark': timestamp text, 'months_loaded': timestamp text}.
#}
{% macro cohorts_mark() -%}
    {{ return(adapter.dispatch('cohorts_mark')()) }}
{%- endmacro %}

{% macro default__cohorts_mark() -%}
    {{ return(none) }}
{%- endmacro %}

{% macro postgres__cohorts_mark() -%}
    {%- if not inline_queries() or should_full_refresh() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set stored = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- if stored is none or not stored.is_table -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select obj_description(cast('{{ this }}' as regclass), 'pg_class')
    {%- endset -%}
    {%- set comment = run_query(query).columns[0].values()[0] or '' -%}
    {%- set timestamp = '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+[+-][0-9:]+' -%}
    {%- set found = modules.re.match(
        '^cohorts of ([0-9]+) users written before (' ~ timestamp ~ '); user months loaded up to (' ~ timestamp ~ ')$',
        comment) -%}
    {%- if not found -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return({'users': found.group(1) | int, 'users_mark': found.group(2), 'months_loaded': found.group(3)}) }}
{%- endmacro %}

{#
    The first month the user months can have changed in since the stored table was counted, as a
    date literal, or none when no user month was loaded since (less the watermark's overlap). Read
    while the model compiles: only this build's user months node writes the table, and it is done.
#}
{% macro cohorts_recount_from(mark) -%}
    {%- set query -%}
        select cast(min(activity_month) as text)
        from {{ ref('int_activity_aggregated_to_user_months') }}
        where max_loaded_at > cast('{{ mark.months_loaded }}' as {{ type_timestamp_tz() }})
            - interval '{{ var('watermark_overlap_minutes', 5) | int }} minutes'
    {%- endset -%}
    {%- set month = run_query(query).columns[0].values()[0] -%}
    {{ return(none if month is none else "cast('" ~ month ~ "' as date)") }}
{%- endmacro %}

{#
    A filter of the final select that keeps, for the post-hook, how many users the cohorts count
    (PostgreSQL: a setting of the statement's transaction; a one-time filter, so it is evaluated
    whether or not there is a row). Nothing on other engines.
#}
{% macro keep_cohort_users(cohort_sizes) -%}
    {{ return(adapter.dispatch('keep_cohort_users')(cohort_sizes)) }}
{%- endmacro %}

{% macro default__keep_cohort_users(cohort_sizes) -%}
{%- endmacro %}

{% macro postgres__keep_cohort_users(cohort_sizes) -%}
    where (
        select set_config('shop.cohort_users', cast(coalesce(sum(cohort_size), 0) as text), true)
        from {{ cohort_sizes }}
    ) is not null
{%- endmacro %}

{# Post-hook of signup_cohorts: keep what the table counted (above) as its comment. #}
{% macro keep_cohorts_mark() -%}
    {{ return(adapter.dispatch('keep_cohorts_mark')()) }}
{%- endmacro %}

{% macro default__keep_cohorts_mark() -%}
{%- endmacro %}

{% macro postgres__keep_cohorts_mark() -%}
    do $mark$
    begin
        execute format(
            'comment on table %s is %L', {{ dbt.string_literal(this.render()) }},
            'cohorts of ' || current_setting('shop.cohort_users', true) || ' users written before '
            || current_setting('shop.users_mark', true) || '; user months loaded up to '
            || coalesce(
                (select cast(max(max_loaded_at) as text) from {{ ref('int_activity_aggregated_to_user_months') }}),
                'never'
            )
        );
    end
    $mark$
{%- endmacro %}

{#
    The activity of users' months by cohort and month: the user months (an alias `user_months`,
    filtered by `where`) joined to `users` (a relation or subquery with user_id and the signup time
    `signup_column`),
    added up by signup day first and the few day groups by month after (the month of a timestamp
    with a time zone is costly to compute: once per day, not per row).
#}
{% macro cohort_activity(users, signup_column, where=none) -%}
    select
        cast({{ dbt.date_trunc('month', 'cohort_days.signup_date') }} as date) as cohort_month,
        cohort_days.activity_month,
        cohort_days.active_users,
        cohort_days.purchasing_users,
        cohort_days.revenue

    from (
        select
            cast(users.{{ signup_column }} as date) as signup_date,
            user_months.activity_month,
            sum({{ flag('user_months.sessions > 0') }}) as active_users,
            sum({{ flag('user_months.orders > 0') }}) as purchasing_users,
            sum(user_months.revenue) as revenue

        from {{ ref('int_activity_aggregated_to_user_months') }} as user_months
        inner join {{ users }} as users
            on user_months.user_id = users.user_id
        {%- if where %}
        where {{ where }}
        {%- endif %}
        group by cast(users.{{ signup_column }} as date), user_months.activity_month
    ) as cohort_days
{%- endmacro %}
