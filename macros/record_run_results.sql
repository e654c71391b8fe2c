{#
    The audit trail: every dbt run, build, test, seed or snapshot appends one row per node it
    ran to audit.dbt_run_results (who, when, which code, which node, status, rows affected as
    the adapter reports them, rows the table holds afterwards, test failures, duration,
    message). Called by on-run-end in dbt_project.yml. Only ever inserted into:
    nothing in the project updates or deletes it (rebuilding from scratch never drops it,
    as it is not a model). Dagster attaches each step's dbt invocation id to its
    materialisations, so a row here is one query away from the run in the UI.
    Elementary records more (the monitoring overlay); this works without any package.
#}
{% macro audit_trail_relation() -%}
    {{ return(api.Relation.create(database=target.database, schema='audit', identifier='dbt_run_results')) }}
{%- endmacro %}

{% macro create_audit_trail() -%}
    create table if not exists {{ audit_trail_relation() }} (
        invocation_id varchar,
        run_started_at timestamp,
        dbt_command varchar,
        run_by varchar,
        git_commit varchar,
        dagster_run_id varchar,
        unique_id varchar,
        resource_type varchar,
        status varchar,
        rows_affected bigint,
        relation_rows bigint,
        failures bigint,
        execution_seconds double,
        message varchar
    )
{%- endmacro %}

{# The hook's SQL: dbt runs and commits it like any hook; empty (no statement) when there is nothing to record. #}
{% macro record_run_results(results) -%}
    {%- if not execute or flags.WHICH not in ('run', 'build', 'test', 'seed', 'snapshot') or results | length == 0 -%}
        {{ return('') }}
    {%- endif -%}
    {%- set rows = [] -%}
    {%- for result in results -%}
        {%- set response = result.adapter_response or {} -%}
        {%- do rows.append('(' ~ [
            audit_literal(invocation_id),
            run_started_timestamp(),
            audit_literal(flags.WHICH),
            audit_literal(env_var('WAREHOUSE_RUN_BY', env_var('USER', 'unknown'))),
            audit_literal(env_var('WAREHOUSE_GIT_COMMIT', 'unknown')),
            audit_literal(env_var('DAGSTER_RUN_ID', '')),
            audit_literal(result.node.unique_id),
            audit_literal(result.node.resource_type),
            audit_literal(result.status),
            response.get('rows_affected') if response.get('rows_affected') is not none else 'null',
            audit_relation_rows(result),
            result.failures if result.failures is not none else 'null',
            result.execution_time | round(3),
            audit_literal(result.message),
        ] | join(', ') ~ ')') -%}
    {%- endfor -%}
    insert into {{ audit_trail_relation() }} values
    {{ rows | join(',\n') }}
{%- endmacro %}

{# Rows in a table the node (re)built, counted as the hook runs; null for views, tests, failures. #}
{% macro audit_relation_rows(result) -%}
    {%- set node = result.node -%}
    {%- if result.status != 'success' or node.resource_type not in ('model', 'seed', 'snapshot')
        or node.config.materialized not in ('table', 'incremental', 'seed', 'snapshot') -%}
        null
    {%- else -%}
        (select count(*) from {{ node.relation_name }})
    {%- endif -%}
{%- endmacro %}

{#
    When this dbt invocation started (UTC, to the second), as a SQL timestamp: the run's time
    in the audit trail and in lake_file_inventory.inspected_at, so the two compare.
#}
{% macro run_started_timestamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp)
{%- endmacro %}

{% macro audit_literal(value) -%}
    {%- if value is none -%}null{%- else -%}'{{ value | string | replace("'", "''") }}'{%- endif -%}
{%- endmacro %}
