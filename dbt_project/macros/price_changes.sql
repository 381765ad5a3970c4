{#
    What an incremental run of marts.price_changes rebuilds. A change's row reads its product's
    days from the day of its previous price (or 14 days before it, when that is earlier) to 13 days
    after it, so a daily row loaded after the watermark can move only the changes of its product
    from 13 days before that row's day on, and, through the distance to the next change, the last
    change before them. Bounded by the earliest such day over all touched products: an appended
    day rebuilds the changes of its last two weeks, not the whole history.
    A table stored before the model was incremental (no unique key index; max_loaded_at then meant
    the product's newest load) is rebuilt whole once, and gets the index.
#}

{# The products with daily rows loaded after this model's watermark, as a query of product_id. #}
{% macro price_changes_touched_products() -%}
    select distinct touched.product_id
    from {{ ref('product_daily_performance') }} as touched
    where touched.max_loaded_at > {{ incremental_watermark() }}
{%- endmacro %}

{# True when the stored table has its unique key index (the incremental model created it). #}
{% macro price_changes_stored_with_key() -%}
    {%- if not inline_queries() -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set query -%}
        select count(*) from pg_catalog.pg_index
        where indrelid = cast('{{ this }}' as regclass) and indisunique
    {%- endset -%}
    {{ return(run_query(query).columns[0].values()[0] | int > 0) }}
{%- endmacro %}

{#
    The first changed_on an incremental run rebuilds, as a date expression (a literal in real runs;
    `cast(null as date)` when nothing was loaded after the watermark, which rebuilds nothing), or
    none when the stored table must be rebuilt whole.
#}
{% macro price_changes_rebuilt_from() -%}
    {%- if not price_changes_stored_with_key() -%}
        {{ return(none) }}
    {%- endif -%}
    {#- The rows are found in the load-time index first (`offset 0` keeps them a subquery): as
        min(activity_date) of the whole filter, PostgreSQL walks the day index from the first day
        and tests every row's load time on the way. -#}
    {%- set query -%}
        select cast({{ dbt.dateadd('day', -13, 'min(touched.activity_date)') }} as date) as rebuilt_from
        from (
            select loaded.activity_date
            from {{ ref('product_daily_performance') }} as loaded
            where loaded.max_loaded_at > {{ incremental_watermark() }}
            offset 0
        ) as touched
    {%- endset -%}
    {%- if inline_queries() -%}
        {%- set day = run_query(query).columns[0].values()[0] -%}
        {{ return("cast('" ~ day ~ "' as date)" if day is not none else 'cast(null as date)') }}
    {%- else -%}
        {{ return('(' ~ query ~ ')') }}
    {%- endif -%}
{%- endmacro %}

{#
    Pre-hook of marts.price_changes: the stored changes the run rebuilds are deleted first (in the
    run's transaction), so a change that a late row undid does not stay. Nothing outside an
    incremental run.
#}
{% macro forget_rebuilt_price_changes() -%}
    {%- if is_incremental() and incremental_by_key() -%}
        {%- set rebuilt_from = price_changes_rebuilt_from() -%}
        {%- if rebuilt_from is none -%}
            delete from {{ this }};
            create unique index on {{ this }} (product_id, changed_on)
        {%- else -%}
            delete from {{ this }}
            where
                changed_on >= {{ rebuilt_from }}
                and product_id in ({{ price_changes_touched_products() }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
