{#
    Post-hook of int_users_joined_to_activity: delete the stored users that raw.users no longer
    holds. The merge only adds and updates, and every registered user is in the table after it
    (new and changed users are rebuilt), so the table holds a removed user exactly when it has more
    rows than the source: the anti-join runs only then (a one-time filter, two counts otherwise).
    PostgreSQL only: on Spark the incremental model is rewritten whole (incremental_by_key).
#}
{% macro remove_unregistered_users() -%}
    {{ return(adapter.dispatch('remove_unregistered_users')()) }}
{%- endmacro %}

{% macro default__remove_unregistered_users() -%}
{%- endmacro %}

{% macro postgres__remove_unregistered_users() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} as stored
        where
            (select count(*) from {{ this }}) > (select count(*) from {{ ref('stg_shop__users') }})
            and not exists (
                select 1 from {{ ref('stg_shop__users') }} as registered
                where registered.user_id = stored.user_id
            )
    {%- endif -%}
{%- endmacro %}

{#
    A buyer's RFM score (1 to 5; null without orders) from the boundaries row of
    int_customer_rfm_boundaries: `score` names the boundaries' columns (recency, frequency,
    monetary), `value` is the users' column that score ranks by.
#}
{% macro rfm_score(users, boundaries, score, value, nulls_first=false) -%}
    case
        when {{ users }}.orders > 0 then 1
            {%- for quintile in range(1, 5) %}
            + {{ comes_after(users ~ '.' ~ value, users ~ '.user_id', boundaries ~ '.' ~ score ~ '_value_' ~ quintile,
                             boundaries ~ '.' ~ score ~ '_user_id_' ~ quintile, nulls_first) }}
            {%- endfor %}
    end
{%- endmacro %}

{#
    1 when the row's ordering key (value, user_id) comes after a stored boundary's in the order the
    scores rank by (ascending, ties by user_id; with nulls_first, null values before every value),
    else 0. A row's quintile is 1 + the number of the four boundaries it comes after
    (int_customer_rfm_boundaries).
#}
{% macro comes_after(value, user_id, boundary_value, boundary_user_id, nulls_first=false) -%}
    {%- if nulls_first -%}
    case
        when {{ boundary_user_id }} is null then 0
        when {{ value }} is null
            then {{ flag(boundary_value ~ ' is null and ' ~ user_id ~ ' > ' ~ boundary_user_id) }}
        when {{ boundary_value }} is null then 1
        else {{ flag(value ~ ' > ' ~ boundary_value ~ ' or (' ~ value ~ ' = ' ~ boundary_value ~ ' and ' ~ user_id ~ ' > ' ~ boundary_user_id ~ ')') }}
    end
    {%- else -%}
    {{ flag(value ~ ' > ' ~ boundary_value ~ ' or (' ~ value ~ ' = ' ~ boundary_value ~ ' and ' ~ user_id ~ ' > ' ~ boundary_user_id ~ ')') }}
    {%- endif -%}
{%- endmacro %}

{#
    The users written (inserted or changed) since this table's previous build, as a query of their
    user_id, for an incremental run on PostgreSQL. raw.users.updated_at is the change marker
    (migration 0015: a default on insert, a trigger on update, whoever writes; the writing
    transaction's start). The table's comment keeps the mark of its last build: a time before which
    every row it could not see was written. The pre-hook takes it, before the model reads, as the
    start of the oldest other transaction then open (one still open may commit rows dated from its
    start, after the read), or the statement's time when none is; the post-hook writes it, in the
    same transaction as the merge. The next build reads the users written from that mark on, and
    no time overlap is needed. Where other sessions' transactions are hidden (a role without
    pg_read_all_stats on an external server), an open one counts as started the watermark overlap
    ago, as for the events. A table without the mark (built before the marker existed) rebuilds
    every user once.
#}
{% macro users_written_since_mark() -%}
    {%- set mark = none -%}
    {%- if inline_queries() -%}
        {%- set query -%}
            select obj_description(cast('{{ this }}' as regclass), 'pg_class')
        {%- endset -%}
        {%- set comment = run_query(query).columns[0].values()[0] or '' -%}
        {%- set found = modules.re.match('^users written before ([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+[+-][0-9:]+) are built$', comment) -%}
        {%- if found -%}
            {%- set mark = found.group(1) -%}
        {%- endif -%}
    {%- endif -%}
    select written.user_id
    from {{ source('shop', 'users') }} as written
    {%- if mark %}
    where written.updated_at >= cast('{{ mark }}' as {{ type_timestamp_tz() }})
    {%- endif %}
{%- endmacro %}

{# Pre-hook of int_users_joined_to_activity: take its mark (above) before it reads. #}
{% macro take_users_mark() -%}
    {{ return(adapter.dispatch('take_users_mark')()) }}
{%- endmacro %}

{% macro default__take_users_mark() -%}
{%- endmacro %}

{% macro postgres__take_users_mark() -%}
    select set_config('shop.users_mark', least(
        statement_timestamp(),
        (
            select min(coalesce(
                xact_start,
                statement_timestamp() - interval '{{ var('watermark_overlap_minutes', 5) | int }} minutes'
            ))
            from pg_catalog.pg_stat_activity
            where
                pid <> pg_backend_pid()
                and backend_type = 'client backend'
                and (xact_start is not null or state is null)
        )
    )::text, true)
{%- endmacro %}

{# Post-hook of int_users_joined_to_activity: keep the mark its pre-hook took as the table's comment. #}
{% macro keep_users_mark() -%}
    {{ return(adapter.dispatch('keep_users_mark')()) }}
{%- endmacro %}

{% macro default__keep_users_mark() -%}
{%- endmacro %}

{% macro postgres__keep_users_mark() -%}
    do $mark$
    begin
        execute format(
            'comment on table %s is %L', {{ dbt.string_literal(this.render()) }},
            'users written before ' || current_setting('shop.users_mark') || ' are built'
        );
    end
    $mark$
{%- endmacro %}

{#
    Per user with a newly loaded session or order (after int_activity_aggregated_to_user_months'
    watermark), the first day of the earliest month whose sessions or orders changed: the user's
    months from then on are rebuilt. Grouped per table and joined, not grouped over a union: the
    planner then estimates the touched users from each table's statistics and plans the joins on
    them for that many (for a union's groups it guesses a few hundred).
#}
{% macro touched_user_months() -%}
    select
        coalesce(touched_sessions.user_id, touched_orders.user_id) as user_id,
        cast({{ dbt.date_trunc('month', 'least(touched_sessions.touched_at, touched_orders.touched_at)') }} as date)
            as rebuild_from

    from (
        select
            user_id,
            min(started_at) as touched_at
        from {{ ref('int_interactions_aggregated_to_sessions') }}
        where max_loaded_at > {{ incremental_watermark() }}
        group by user_id
    ) as touched_sessions
    full outer join (
        select
            user_id,
            min(ordered_at) as touched_at
        from {{ ref('int_purchases_aggregated_to_orders') }}
        where max_loaded_at > {{ incremental_watermark() }}
        group by user_id
    ) as touched_orders
        on touched_sessions.user_id = touched_orders.user_id
{%- endmacro %}

{#
    Pre-hook of int_activity_aggregated_to_user_months: delete the touched users' stored months
    that the run rebuilds (touched_user_months), before the model reads. Rendered, like the model,
    before anything is written, so both see the same watermark. The months the rebuild yields are
    inserted again by the merge; one it no longer yields stays deleted. PostgreSQL only: on Spark
    the incremental model is rewritten whole (incremental_by_key).
#}
{% macro remove_rebuilt_user_months() -%}
    {{ return(adapter.dispatch('remove_rebuilt_user_months')()) }}
{%- endmacro %}

{% macro default__remove_rebuilt_user_months() -%}
{%- endmacro %}

{% macro postgres__remove_rebuilt_user_months() -%}
    {%- if incremental_by_key() -%}
        delete from {{ this }} as stored
        using ({{ touched_user_months() }}) as touched_users
        where
            stored.user_id = touched_users.user_id
            and stored.activity_month >= touched_users.rebuild_from
    {%- endif -%}
{%- endmacro %}
