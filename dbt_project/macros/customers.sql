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
