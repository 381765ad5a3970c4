{#
    A fingerprint of every product's current category: one row, one column (`fingerprint`).
    Marts that group by the current category store it, so that an incremental run can tell that
    the catalogue has changed since their rows were built and rebuild them all. The caller must
    ref('stg_shop__products') itself.
#}
{% macro category_fingerprint_query() -%}
    {{ return(adapter.dispatch('category_fingerprint_query')()) }}
{%- endmacro %}

{% macro default__category_fingerprint_query() -%}
    select
        md5(string_agg(entry, ',' order by entry collate "C")) as fingerprint
    from (
        select cast(product_id as {{ dbt.type_string() }}) || ':' || coalesce(category, '') as entry
        from {{ ref('stg_shop__products') }}
    ) as catalogue
{%- endmacro %}

{#
    Spark's collect_list has no order: sort the collected strings instead. Both engines order the
    entries byte by byte (collation "C" on PostgreSQL), so they agree on the fingerprint.
#}
{% macro spark__category_fingerprint_query() -%}
    select
        md5(array_join(sort_array(collect_list(
            concat(cast(product_id as string), ':', coalesce(category, ''))
        )), ',')) as fingerprint
    from {{ ref('stg_shop__products') }}
{%- endmacro %}

{#
    True when `this` was built with another catalogue than the current one (or has no fingerprint
    yet). Only in real runs: unit tests render the comparison as SQL instead (`this` is a fixture).
#}
{% macro catalogue_changed_since_build() -%}
    {%- set query -%}
        select case
            when (select max(category_fingerprint) from {{ this }})
                = ({{ category_fingerprint_query() }}) then 0
            else 1
        end
    {%- endset -%}
    {{ return(run_query(query).columns[0].values()[0] == 1) }}
{%- endmacro %}

{#
    True when a row of `this` (which stores product_id and category) holds a category that is no
    longer its product's current one. Run on its own, before the model's query: inside it, the
    planner cannot know that the answer is usually "none" and plans for "all". (No `limit 1`: it
    makes the planner bet on an early match and probe the products view row by row.)
#}
{% macro stored_categories_changed() -%}
    {%- set query -%}
        select count(*)
        from {{ this }} as built_rows
        left join {{ ref('stg_shop__products') }} as products
            on built_rows.product_id = products.product_id
        where coalesce(built_rows.category, '') <> coalesce(products.category, '')
    {%- endset -%}
    {{ return(run_query(query).columns[0].values()[0] > 0) }}
{%- endmacro %}
