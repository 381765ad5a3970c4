{#-
    A model's row-level checks in one scan and one node: every row must pass every listed check,
    with the meaning of the one-column tests they replace (a null passes every check but not_null,
    as in dbt's accepted_values and our positive, non_negative, between and exact_length).
    Each data test is a node of every build, with dbt's fixed cost per node and, on a large
    table, a scan of its own: one node per model instead of one per column and check keeps a
    refresh build cheap for the same verdict. Each failure names its check in `failed_check` (a
    row's first failed check; a duplicated key once); `where` scopes it like any generic test
    (macros/test_scope.sql).
    `unique` (lists of columns, each a key) counts each key's rows among the rows checked (one more
    narrow pass, still one node): exact on an unscoped test, or on one scoped to every row of the
    keys it checks; never with a scope that can split a key (a duplicate outside it goes unseen).
        - column_checks:
            arguments:
              unique: [[user_id]]
              not_null: [order_id, user_id]
              positive: [units]
              non_negative: [revenue]
              between: {score: [1, 5]}
              accepted_values: {event_type: [view, add_to_cart, purchase]}
              exact_length: {country_code: 2}
              conditions: {purchase_has_an_order: "event_type <> 'purchase' or order_id is not null"}
-#}
{% test column_checks(model, unique=[], not_null=[], positive=[], non_negative=[], between={}, accepted_values={}, exact_length={}, conditions={}) %}

with

checked as (

    select
        case
            when 1 = 0 then null
            {%- for column in not_null %}
            when {{ column }} is null then '{{ column }} is null'
            {%- endfor %}
            {%- for column in positive %}
            when {{ column }} <= 0 then '{{ column }} is not positive'
            {%- endfor %}
            {%- for column in non_negative %}
            when {{ column }} < 0 then '{{ column }} is negative'
            {%- endfor %}
            {%- for column, bounds in between.items() %}
            when {{ column }} < {{ bounds[0] }} or {{ column }} > {{ bounds[1] }}
                then '{{ column }} is not between {{ bounds[0] }} and {{ bounds[1] }}'
            {%- endfor %}
            {%- for column, values in accepted_values.items() %}
            when {{ column }} not in ({{ sql_literals(values) }}) then '{{ column }} is not an accepted value'
            {%- endfor %}
            {%- for column, length in exact_length.items() %}
            when {{ dbt.length(column) }} <> {{ length }} then '{{ column }} is not {{ length }} long'
            {%- endfor %}
            {%- for name, condition in conditions.items() %}
            when not ({{ condition }}) then '{{ name }}'
            {%- endfor %}
        end as failed_check

    from {{ model }}

)

select failed_check from checked
where failed_check is not null
{%- for key in unique %}

union all

{#- a hash of the key columns only (sorting whole rows for a window count cost more); one
    failing row per duplicated key, as dbt's unique. One column: nulls are no key (as dbt's
    unique); several: grouped as unique_combination_of_columns groups them. #}
select '{{ key | join(', ') }} is not unique' as failed_check
from {{ model }}
{%- if key | length == 1 %}
where {{ key[0] }} is not null
{%- endif %}
group by {{ key | join(', ') }}
having count(*) > 1
{%- endfor %}

{% endtest %}
