{#
    The view materialization on PostgreSQL: dbt's own (create the view under a temporary name, swap
    it in, drop the old one), except that a view whose definition has not changed since it was
    created is left as it is. dbt re-creates every view at every build; the refresh loop builds
    every half minute, and each re-creation is several statements under an exclusive lock (a
    dashboard query on the view waits for it), on the path of everything downstream.

    "Not changed": the view exists and carries, as its comment, the digest of the SQL it was created
    from and of its contract's columns. The same SQL over the same relations gives the same rows. A
    change upstream needs no new view: every view here names its columns (a column added upstream
    is not one of them), PostgreSQL refuses to drop or retype a column a view reads, and replacing an
    upstream table (a full refresh) drops its views with it, so they are created again.
    `--full-refresh` always re-creates; models with grants or persisted docs (which use the comment)
    are never skipped. Hooks run either way (this project's only one, `analyze_if_new`, does
    nothing on a view).
#}
{%- materialization view, adapter='postgres' -%}

  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set contract_columns = [] -%}
  {%- for column in model.columns.values() -%}
    {%- do contract_columns.append(column.name ~ ' ' ~ column.data_type) -%}
  {%- endfor -%}
  {%- set digest = 'shop view definition ' ~ local_md5(sql ~ '\n' ~ config.get('contract', {}) ~ '\n' ~ contract_columns | join(',')) -%}
  {%- set plain = not (config.get('grants') or config.get('persist_docs')) -%}

  {%- if plain and not should_full_refresh() -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {%- call statement('main', fetch_result=True) -%}
      select coalesce(
        (select obj_description(oid, 'pg_class') = {{ dbt.string_literal(digest) }} and relkind = 'v'
         from pg_catalog.pg_class where oid = to_regclass({{ dbt.string_literal(target_relation.render()) }})),
        false
      ) as unchanged
    {%- endcall -%}
    {%- if load_result('main').table.columns[0].values()[0] -%}
      {{ run_hooks(post_hooks, inside_transaction=True) }}
      {% do adapter.commit() %}
      {{ run_hooks(post_hooks, inside_transaction=False) }}
      {{ return({'relations': [target_relation]}) }}
    {%- endif -%}
  {%- endif -%}

  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
  {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
  {%- set backup_relation_type = 'view' if existing_relation is none else existing_relation.type -%}
  {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
  {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}
  {% set grant_config = config.get('grants') %}

  {%- if not (plain and not should_full_refresh()) %}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {%- endif %}

  {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
  {{ drop_relation_if_exists(preexisting_backup_relation) }}

  {%- if not (plain and not should_full_refresh()) %}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {%- endif %}

  {% call statement('main') -%}
    {{ get_create_view_as_sql(intermediate_relation, sql) }}
  {%- endcall %}

  {% if existing_relation is not none %}
    {% set existing_relation = load_cached_relation(existing_relation) %}
    {% if existing_relation is not none %}
        {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {% endif %}
  {% endif %}
  {{ adapter.rename_relation(intermediate_relation, target_relation) }}

  {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) %}
  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}

  {% do persist_docs(target_relation, model) %}

  {%- if plain -%}
    {% call statement('mark_definition') -%}
      comment on view {{ target_relation.render() }} is {{ dbt.string_literal(digest) }}
    {%- endcall %}
  {%- endif -%}

  {{ run_hooks(post_hooks, inside_transaction=True) }}

  {{ adapter.commit() }}

  {{ drop_relation_if_exists(backup_relation) }}

  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{%- endmaterialization -%}
