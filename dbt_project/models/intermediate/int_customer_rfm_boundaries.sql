{#
    One row: the newest day of activity (what recency is measured against) and, for each of the
    three RFM orders, the ordering keys of the last buyer of quintiles 1 to 4. With them a buyer's
    score is a comparison, not a ranking: `customers` computes `ntile(5)` over all buyers as
    1 + the number of boundaries the buyer comes after (macro comes_after), so only this row is
    written when every buyer's rank moves with a new day. ntile(5) over n rows gives the first
    n mod 5 quintiles floor(n / 5) + 1 rows and the others floor(n / 5): quintile g ends at position
    g * floor(n / 5) + least(g, n mod 5).
    Incremental on a constant key (merge_changed updates the one row): a table replaced at every
    build would drop the `customers` view that reads it.
    floor(n / 5) is written as a cast of n / 5 to an integer (exact for a count: PostgreSQL's integer
    division truncates, and so does the cast of Spark's double): floor() turned every one of the
    boundaries' comparisons on every buyer into a numeric one.
    Recency ranks by the last order day, ascending (the longest ago first, as `recency_days`
    descending); frequency by orders; monetary by lifetime revenue, unknown revenue first. Ties by
    user_id, as in every score.
#}
{{
    config(
        materialized='incremental',
        on_schema_change='append_new_columns',
    )
}}
{{ incremental_config('rfm_key') }}

{%- set orders = [
    ('recency', 'last_order_date', ''),
    ('frequency', 'orders', ''),
    ('monetary', 'lifetime_revenue', ' nulls first'),
] %}

with

as_of as (

    select max(occurred_date) as as_of_date from {{ ref('int_interactions_enriched') }}

),

ranked as (

    select
        user_id,
        {%- for name, column, nulls in orders %}
        {{ column }},
        row_number() over (order by {{ column }}{{ nulls }}, user_id) as {{ name }}_position,
        {%- endfor %}
        count(*) over () as buyers

    from {{ ref('int_users_joined_to_activity') }}
    where orders > 0

),

boundaries as (

    select
        {%- for name, column, nulls in orders %}
        {%- for quintile in range(1, 5) %}
        {%- set per_quintile = 'cast(buyers / 5 as ' ~ dbt.type_bigint() ~ ')' %}
        {%- set remainder = 'buyers - 5 * ' ~ per_quintile %}
        {%- set last_position = quintile ~ ' * ' ~ per_quintile ~ ' + least(' ~ quintile ~ ', ' ~ remainder ~ ')' %}
        max(case when {{ name }}_position = {{ last_position }} then {{ column }} end)
            as {{ name }}_value_{{ quintile }},
        max(case when {{ name }}_position = {{ last_position }} then user_id end)
            as {{ name }}_user_id_{{ quintile }},
        {%- endfor %}
        {%- endfor %}
        count(*) as buyers

    from ranked

),

final as (

    select
        boundaries.*,
        as_of.as_of_date,
        1 as rfm_key

    from as_of
    cross join boundaries

)

select * from final
