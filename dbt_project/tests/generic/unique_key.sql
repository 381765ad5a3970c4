{#-
    `column_name` is unique (nulls are no key, as dbt's unique): each duplicated value once.
    On PostgreSQL a valid unique index on exactly that column proves it (the database refuses a
    duplicate), and then the count is not run: a gate on the index skips it. Counting every key of a
    large table costs a hash of every row on every build, and when the test gates a chain of models
    the whole build waits for it. Without such an index (another database, an index dropped or not
    yet built) the keys are counted as dbt's unique counts them. For unscoped tests only (no `where`:
    the index covers the whole table).
-#}
{% test unique_key(model, column_name) %}

select {{ column_name }} as duplicated_key
from {{ model }}
where {{ column_name }} is not null
{%- if target.type == 'postgres' %}
    and not exists (
        select 1
        from pg_catalog.pg_index as key_index
        inner join pg_catalog.pg_attribute as key_column
            on key_column.attrelid = key_index.indrelid and key_column.attnum = key_index.indkey[0]
        where
            key_index.indrelid = to_regclass('"{{ model.schema }}"."{{ model.identifier }}"')
            and key_index.indisunique
            and key_index.indisvalid
            and key_index.indpred is null
            and key_index.indexprs is null
            and key_index.indnkeyatts = 1
            and key_column.attname = '{{ column_name }}'
    )
{%- endif %}
group by {{ column_name }}
having count(*) > 1

{% endtest %}
