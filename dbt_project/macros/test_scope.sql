{#
    Tests on the large tables may look at recently loaded rows only, except under --full-refresh
    (or `shop build --test-all`, --vars 'test_all_rows: true'), which checks every row. A test opts
    in with one of
        config:
          where: "__recently_loaded__(last_loaded_at)"   # rows loaded since the previous build
          where: "__recently_loaded_keys__(order_id, max_loaded_at)"  # every row of their keys
          where: "__recent_event_days__(occurred_date)"  # days touched by rows loaded since then
    The second form is for the staging view: the filter on its day column reaches through the
    view's de-duplication down to the raw scan. Singular tests call the same macros directly.
    "Since the previous build": `shop build` sets the environment variable SHOP_TEST_LOADED_AFTER
    to where the previous complete, successful build started reading raw (shop/build_marks.py).
    Without it (plain `dbt build`, a first build), the last test_recent_days days of loads count as
    recent. An environment variable, not a var: a --vars value that changes from build to build
    makes dbt re-parse the whole project on every build, one read only while executing
    does not.
#}

{#
    Every row under --full-refresh, --vars 'test_all_rows: true', or SHOP_TEST_ALL_ROWS=1 (what
    `shop build --test-all` sets; read only while executing, so that it never makes dbt re-parse).
#}
{% macro test_scope_is_full() -%}
    {%- set by_env = execute and env_var('SHOP_TEST_ALL_ROWS', '') | lower in ['true', '1'] -%}
    {{ return(flags.FULL_REFRESH or by_env or (var('test_all_rows', false) | string | lower in ['true', '1'])) }}
{%- endmacro %}

{% macro _scalar_literal(query, type) -%}
    {%- if execute -%}
        {%- set value = run_query(query).columns[0].values()[0] -%}
        {%- if value is none -%}
            cast(null as {{ type }})
        {%- else -%}
            cast('{{ value }}' as {{ type }})
        {%- endif -%}
    {%- else -%}
        cast(null as {{ type }})
    {%- endif -%}
{%- endmacro %}

{#
    SHOP_TEST_LOADED_AFTER as a timestamp literal, or none. Read only while executing (at parse time
    dbt would record it and re-parse its callers when it changes). Checked: it is inlined into SQL.
#}
{% macro test_loaded_after() -%}
    {{ return(_env_timestamp('SHOP_TEST_LOADED_AFTER')) }}
{%- endmacro %}

{#
    SHOP_TEST_SETTLED_BEFORE as a timestamp literal, or none: `shop build` sets it to a point before
    which every raw row was committed when the build started (shop/build_marks.py), so every model
    the build writes holds those rows.
#}
{% macro test_settled_before() -%}
    {{ return(_env_timestamp('SHOP_TEST_SETTLED_BEFORE')) }}
{%- endmacro %}

{% macro _env_timestamp(name) -%}
    {%- set value = env_var(name, '') if execute else '' -%}
    {%- if value == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([+-][0-9]{2}:?[0-9]{2}|Z)?$', value | string) -%}
        {{ exceptions.raise_compiler_error(name ~ " must be an ISO 8601 timestamp, got: " ~ value) }}
    {%- endif -%}
    {{ return("cast('" ~ value ~ "' as " ~ type_timestamp_tz() ~ ")") }}
{%- endmacro %}

{#
    `column > SHOP_TEST_LOADED_AFTER`, else `column >= (newest value of column - test_recent_days days)`;
    `1 = 1` when testing all rows.
#}
{% macro recently_loaded_filter(column, relation) -%}
    {%- if test_scope_is_full() -%}
        1 = 1
    {%- elif test_loaded_after() is not none -%}
        {{ column }} > {{ test_loaded_after() }}
    {%- else -%}
        {%- set query -%}
            select cast({{ dbt.dateadd('day', -(var('test_recent_days', 3) | int), 'max(' ~ column ~ ')') }}
                as {{ dbt.type_string() }})
            from {{ relation }}
        {%- endset -%}
        {{ column }} >= {{ _scalar_literal(query, type_timestamp_tz()) }}
    {%- endif -%}
{%- endmacro %}

{# The relation name of raw.interactions (the source), for queries run while compiling. #}
{% macro _raw_interactions() -%}
    {%- set raw = [] -%}
    {%- for node in graph.sources.values() if node.source_name == 'shop' and node.name == 'interactions' -%}
        {%- do raw.append(node.relation_name) -%}
    {%- endfor -%}
    {{ return(raw[0]) }}
{%- endmacro %}

{# The UTC event days (ISO strings, sorted) of raw rows loaded after `bound`, a timestamp literal. #}
{% macro _event_days_loaded_after(bound) -%}
    {%- set query -%}
        select distinct cast({{ utc_date('occurred_at') }} as {{ dbt.type_string() }})
        from {{ _raw_interactions() }}
        where loaded_at > {{ bound }}
        order by 1
    {%- endset -%}
    {{ return(run_query(query).columns[0].values() | list) }}
{%- endmacro %}

{# `day_column in (days)` as a literal list, `1 = 0` for none. #}
{% macro _day_in_list(day_column, days) -%}
    {%- if days | length == 0 -%}
        1 = 0
    {%- else -%}
        {{ day_column }} in (
        {%- for day in days -%}
            cast('{{ day }}' as date){{ ", " if not loop.last }}
        {%- endfor -%}
        )
    {%- endif -%}
{%- endmacro %}

{#
    `day_column in (the event days of raw rows loaded after SHOP_TEST_LOADED_AFTER)` (late events
    included, read as a literal list through raw's loaded_at index), else `day_column >= (date of
    the newest raw load - test_recent_days)`; `1 = 1` when testing all rows.
    With `settled_for` (a mart), also only the days settled for that mart (settled_days_filter):
    with the mark, the unsettled days are taken out of the literal list itself, so that a test on
    the staging view de-duplicates only the days it compares (a `not in (subquery)` stays above
    the view's window and filters after the de-duplication of every recent day).
    `memo`, a dict the calling test creates (`{% set memo = {} %}`), lets the test's filters share
    their reads of raw and of each mart's bound: without it every filter reads them again, and
    the filters of one test may disagree when a loader commits between the reads.
#}
{% macro recent_event_days_filter(day_column, settled_for=none, memo=none) -%}
    {%- if test_scope_is_full() -%}
        1 = 1{{ _and_settled(day_column, settled_for) }}
    {%- elif not execute -%}
        {{ day_column }} is not null{{ _and_settled(day_column, settled_for) }}
    {%- elif test_loaded_after() is not none -%}
        {%- set days = _memoized(memo, 'days after ' ~ test_loaded_after(), _event_days_loaded_after,
                                 test_loaded_after()) -%}
        {%- if settled_for is not none -%}
            {%- set bound = _memoized(memo, 'bound of ' ~ settled_for, _settled_bound, settled_for) -%}
            {%- set unsettled = _memoized(memo, 'days after ' ~ bound, _event_days_loaded_after, bound) -%}
            {%- set days = days | reject('in', unsettled) | list -%}
        {%- endif -%}
        {{ _day_in_list(day_column, days) }}
    {%- else -%}
        {%- set query -%}
            select cast(cast({{ dbt.dateadd('day', -(var('test_recent_days', 3) | int), 'max(loaded_at)') }}
                as date) as {{ dbt.type_string() }})
            from {{ _raw_interactions() }}
        {%- endset -%}
        {{ day_column }} >= {{ _scalar_literal(query, 'date') }}{{ _and_settled(day_column, settled_for) }}
    {%- endif -%}
{%- endmacro %}

{# `function(argument)`, read once per `key` when there is a memo (a dict), else every time. #}
{% macro _memoized(memo, key, function, argument) -%}
    {%- if memo is none -%}
        {{ return(function(argument)) }}
    {%- endif -%}
    {%- if key not in memo -%}
        {%- do memo.update({key: function(argument)}) -%}
    {%- endif -%}
    {{ return(memo[key]) }}
{%- endmacro %}

{# ` and settled_days_filter(...)`, or nothing without a mart. #}
{% macro _and_settled(day_column, settled_for) -%}
    {%- if settled_for is not none %} and {{ settled_days_filter(day_column, settled_for) }}{% endif -%}
{%- endmacro %}

{#
    `(key columns) in (the keys of rows loaded since the previous build)`, from "k1, k2, loaded_column":
    every row of a key that a recently loaded row has, whatever that row's own load time. For
    uniqueness (a duplicate the build made involves a row it wrote, and that row's key) and for
    models that rebuild every row of a key whose values can change without a newer load (a
    customer's orders are renumbered by a late earlier order; a user's month loses a session that a
    late event moved). `1 = 1` when testing all rows.
#}
{% macro recently_loaded_keys_filter(spec, relation) -%}
    {%- set names = spec.split(',') | map('trim') | list -%}
    {%- set key = names[:-1] | join(', ') -%}
    {%- if test_scope_is_full() -%}
        1 = 1
    {%- else -%}
        ({{ key }}) in (
            select {{ key }} from {{ relation }} where {{ recently_loaded_filter(names[-1], relation) }}
        )
    {%- endif -%}
{%- endmacro %}

{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- set loaded = modules.re.search('__recently_loaded__\\((\\w+)\\)', where) -%}
        {%- if loaded -%}
            {%- set where = where | replace(loaded.group(0), recently_loaded_filter(loaded.group(1), relation)) -%}
        {%- endif -%}
        {%- set keys = modules.re.search('__recently_loaded_keys__\\(([\\w ,]+)\\)', where) -%}
        {%- if keys -%}
            {%- set where = where | replace(keys.group(0), recently_loaded_keys_filter(keys.group(1), relation)) -%}
        {%- endif -%}
        {%- set days = modules.re.search('__recent_event_days__\\((\\w+)\\)', where) -%}
        {%- if days -%}
            {%- set where = where | replace(days.group(0), recent_event_days_filter(days.group(1))) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}

{#
    `day_column` is not a day that events loaded after `relation`'s newest load (minus a minute,
    for transactions that were committing while it was built) have touched. While a live stream
    writes, staging (a view over raw) runs ahead of the marts built a moment ago: reconciliation
    tests compare the settled days only. Without a stream nothing is newer, so every day counts.
    Rows loaded before the build's settled point (test_settled_before, less the same minute for a
    loader's clock) are in every model the build wrote: a batch loaded before the build, whose rows
    are all the newest load, is then reconciled by that build rather than left out as unsettled.
#}
{% macro _settled_bound(relation, watermark_column='max_loaded_at') -%}
    {%- set newest = dbt.dateadd('minute', -1, 'max(' ~ watermark_column ~ ')') -%}
    {%- set settled_before = test_settled_before() -%}
    {%- set query -%}
        select cast(
            {%- if settled_before is none %} {{ newest }}
            {%- else %} greatest({{ newest }}, {{ dbt.dateadd('minute', -1, settled_before) }})
            {%- endif %} as {{ dbt.type_string() }})
        from {{ relation }}
    {%- endset -%}
    {{ return(_scalar_literal(query, type_timestamp_tz())) }}
{%- endmacro %}

{% macro settled_days_filter(day_column, relation, watermark_column='max_loaded_at') -%}
    {#- Raw rows, through the index on loaded_at: a scan of the staging view would de-duplicate every
        row. Read first and inlined as literals, so that the planner sees how few rows are newer
        (with a subquery it guessed a third of the table and walked the whole event-day index) and
        can push the day filter down through the staging view. -#}
    {%- if execute -%}
        {%- set unsettled = _event_days_loaded_after(_settled_bound(relation, watermark_column)) -%}
        {%- if unsettled | length == 0 -%}
            1 = 1
        {%- else -%}
            not ({{ _day_in_list(day_column, unsettled) }})
        {%- endif -%}
    {%- else -%}
        {{ day_column }} not in (
            select distinct {{ utc_date('recent.occurred_at') }}
            from {{ source('shop', 'interactions') }} as recent
            where recent.loaded_at > (
                select {{ dbt.dateadd('minute', -1, 'max(' ~ watermark_column ~ ')') }} from {{ relation }}
            )
        )
    {%- endif -%}
{%- endmacro %}
