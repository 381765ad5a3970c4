{#
    Rows that reached the warehouse per hour of arrival (loaded_at), and the distinct senders
    (sessions, users) behind them, for the two streamed sources:
    the freshness check (`alerts`) compares each hour's arrivals with the same hour of previous
    weeks. Incremental: arrivals only ever land in the newest hours, so a run rebuilds whole each
    source's hours from the one holding its watermark (less the overlap) on (a range scan of the loaded_at index).
    Users and products are not streams (signups and catalogue edits come in bursts); their
    freshness is dbt's source freshness, against the thresholds in _shop__sources.yml.
#}
{{
    config(
        materialized='incremental',
        on_schema_change='fail',
    )
}}
{{
    incremental_config(
        ['source_table', 'loaded_hour'],
        indexes=[{'columns': ['source_table', 'loaded_hour'], 'unique': true}],
    )
}}

{# (name, relation, who sends the rows: arrivals come in clusters of one visit's events) #}
{% set sources = [('raw.interactions', source('shop', 'interactions'), 'session_id'),
                  ('raw.served_recommendations', source('shop', 'served_recommendations'), 'user_id')] %}

with

{% for name, relation, sender in sources %}
arrivals_{{ loop.index }} as (

    select
        cast('{{ name }}' as {{ dbt.type_string() }}) as source_table,
        {{ dbt.date_trunc('hour', 'loaded_at') }} as loaded_hour,
        cast(count(*) as {{ dbt.type_bigint() }}) as rows_loaded,
        cast(count(distinct {{ sender }}) as {{ dbt.type_bigint() }}) as senders,
        max(loaded_at) as max_loaded_at

    from {{ relation }}
    {% if is_incremental() %}
    -- whole hours, from the one holding the watermark (less the overlap for late commits) on
    where
        loaded_at >= (
            select
                date_trunc(
                    'hour',
                    coalesce(
                        max(previous.max_loaded_at) - interval '1 minute' * {{ var('watermark_overlap_minutes', 5) }},
                        {{ watermark_floor() }}
                    )
                )
            from {{ this }} as previous
            where previous.source_table = '{{ name }}'
        )
    {% endif %}
    group by {{ dbt.date_trunc('hour', 'loaded_at') }}

),

{% endfor %}
final as (

    {% for name, relation, sender in sources %}
    select * from arrivals_{{ loop.index }}
    {{ 'union all' if not loop.last }}
    {% endfor %}

)

select * from final
