{#
    Reading the lake file by file (docs/reliability.md).

    Every file under a source's folder is inspected by audit.lake_file_inventory
    (warehouse/lake_inventory.py, through the DuckDB function lake_file_inspection that
    warehouse/duckdb_plugin.py registers). The base_ models and the reconciliation read
    only the files found readable, listed at execute time; the others are in
    audit.quarantined_files with their error. A declared source column that no readable
    file has (e.g. preferred_language before the feed sent it) reads as null.
#}

{# A table of the audit schema as the warehouse holds it now, or none (hooks cannot ref()). #}
{% macro existing_audit_relation(identifier) -%}
    {{ return(adapter.get_relation(
        database=target.database, schema=generate_schema_name('audit', none), identifier=identifier
    )) }}
{%- endmacro %}

{#
    The lake inventory whose inspections a run may reuse (`known_inventory` below), or none:
    on a --full-refresh every file is inspected again, and so is every file of an
    inventory built before files had a modification time, an inspection time, a system, a
    rule and the fingerprint of the checks they were inspected under.
#}
{% macro reusable_lake_inventory(relation) -%}
    {%- if flags.FULL_REFRESH or relation is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
    {%- for needed in ['modified_at', 'inspected_at', 'source_system', 'quarantine_rule', 'checks_fingerprint']
        if needed not in columns -%}
        {{ return(none) }}
    {%- endfor -%}
    {{ return(relation) }}
{%- endmacro %}

{#
    The latest partition date a run reads: the UTC date the run started plus var
    future_partition_tolerance_days. A partition dated later is held in the inventory
    (partition_date_in_the_future). The run's own date, not the window's max_date: the
    inventory covers the whole lake, and a day already past stays past, so a run of any
    window reads the same files of it once their day has come.
#}
{% macro latest_partition_date() -%}
    {%- set tolerance = validated_integer_var('future_partition_tolerance_days', 0, 3650) -%}
    {#- run_started_at is in UTC, as the audit trail's run_started_timestamp() takes it -#}
    {{ return((run_started_at.date() + modules.datetime.timedelta(days=tolerance)).isoformat()) }}
{%- endmacro %}

{#
    The part of a source's graph node the inventory checks files against, as JSON: its
    meta.lake contract and its columns' data_type and meta. Python reads it with the rules
    it reads the manifest by (warehouse/lake_sources.py), so the contract is parsed once.
#}
{% macro lake_inspection_contract(source) -%}
    {%- set columns = {} -%}
    {%- for name, column in source.columns.items() -%}
        {%- do columns.update({name: {'data_type': column.data_type, 'meta': column.meta}}) -%}
    {%- endfor -%}
    {%- set meta = {'lake': source.meta.lake} -%}
    {%- for key in ['lake_subdir', 'lake_active_within_days'] if key in source.meta -%}
        {%- do meta.update({key: source.meta[key]}) -%}
    {%- endfor -%}
    {{ return(tojson({
        'unique_id': source.unique_id,
        'source_name': source.source_name,
        'name': source.name,
        'original_file_path': source.original_file_path,
        'meta': meta,
        'columns': columns,
    })) }}
{%- endmacro %}

{#
    One row per landed file of the source: its inspection as JSON text in column
    `inspection`. `known_inventory` (a previous lake_file_inventory, or none) lends each
    unchanged file its previous inspection (warehouse/lake_inventory.py says why).
#}
{% macro lake_file_inspections(source, decode=true, known_inventory=none) -%}
    {{ return(adapter.dispatch('lake_file_inspections', 'ml_warehouse')(source, decode, known_inventory)) }}
{%- endmacro %}

{% macro duckdb__lake_file_inspections(source, decode, known_inventory) -%}
    {%- set folder = lake_folder(source) -%}
    {%- do lake_contract(source) -%}  {#- a contract the machinery cannot honour stops here #}
    select
        {{ dbt.string_literal(source.source_name) }} as source_system,
        {{ dbt.string_literal(source.name) }} as source_name,
        lake_file_inspection(
            landed.file,
            {{ dbt.string_literal(folder | replace("'", "''")) }},
            {{ dbt.string_literal(lake_inspection_contract(source) | replace("'", "''")) }},
            {{ dbt.string_literal(latest_partition_date()) }},
            {{ 'true' if decode else 'false' }},
            {{ 'known.inspection' if known_inventory is not none else 'null' }}
        ) as inspection
    from glob({{ dbt.string_literal((folder ~ '/**') | replace("'", "''")) }}) as landed
    {%- if known_inventory is not none %}
        left join (
            select
                file_path,
                json_object(
                    'path', file_path,
                    'partition_folder', partition_folder,
                    'ingest_date', ingest_date,
                    'size_bytes', size_bytes,
                    'status', status,
                    'error', error,
                    'columns', file_columns,
                    'modified_us', epoch_us(modified_at),
                    'rule', quarantine_rule,
                    'checks', checks_fingerprint
                ) as inspection
            from {{ known_inventory }}
            where
                source_system = {{ dbt.string_literal(source.source_name) }}
                and source_name = {{ dbt.string_literal(source.name) }}
        ) as known
            on landed.file = known.file_path
    {%- endif %}
{%- endmacro %}

{% macro default__lake_file_inspections(source, decode, known_inventory) -%}
    {{ exceptions.raise_compiler_error(
        "lake_file_inspections has no implementation for adapter '" ~ adapter.type() ~ "': add "
        ~ adapter.type() ~ "__lake_file_inspections in macros/lake_files.sql"
    ) }}
{%- endmacro %}

{# The landed files of a source as a relation: every file under its folder (glob). #}
{% macro lake_landed_files(folder) -%}
    {{ return(adapter.dispatch('lake_landed_files', 'ml_warehouse')(folder)) }}
{%- endmacro %}

{% macro duckdb__lake_landed_files(folder) -%}
    glob({{ dbt.string_literal((folder ~ '/**') | replace("'", "''")) }})
{%- endmacro %}

{% macro default__lake_landed_files(folder) -%}
    {{ exceptions.raise_compiler_error(
        "lake_landed_files has no implementation for adapter '" ~ adapter.type() ~ "': add "
        ~ adapter.type() ~ "__lake_landed_files in macros/lake_files.sql"
    ) }}
{%- endmacro %}

{#
    The readable files of `source_relation` (a source()) in this run's ingest window, as a
    subquery with every declared column. Replaces selecting from the source's glob, which
    fails on the first unreadable file and cannot invent a column no file has.
#}
{% macro readable_lake_files(source_relation) -%}
    {%- set inventory = ref('lake_file_inventory') -%}
    {{ return(adapter.dispatch('readable_lake_files', 'ml_warehouse')(source_relation, inventory)) }}
{%- endmacro %}

{% macro duckdb__readable_lake_files(source_relation, inventory) -%}
    {%- set declared = [] -%}
    {%- set files = [] -%}
    {%- set present = [] -%}
    {%- set built = load_relation(inventory) if execute else none -%}
    {%- if execute and (built is none
        or 'source_system' not in adapter.get_columns_in_relation(built) | map(attribute='name') | list) -%}
        {#- Compiling before the first build (dbt compile, lineage, linting), or against a
            warehouse built by an older version: the inventory is built first in every run,
            so only SQL that is never run reads the glob. -#}
        {{ return(source_relation) }}
    {%- endif -%}
    {%- if execute -%}
        {%- set source = lake_source_of_relation(source_relation) -%}
        {%- for name in source.columns -%}
            {%- do declared.append(name) -%}
        {%- endfor -%}
        {%- set readable = "from " ~ inventory
            ~ " where source_system = " ~ dbt.string_literal(source.source_name)
            ~ " and source_name = " ~ dbt.string_literal(source.name)
            ~ " and status = 'readable' and " ~ ingest_window('ingest_date') -%}
        {%- for path in run_query("select file_path " ~ readable ~ " order by file_path").columns[0].values() -%}
            {%- do files.append(dbt.string_literal(path | replace("'", "''"))) -%}
        {%- endfor -%}
        {%- for name in run_query("select distinct unnest(file_columns) " ~ readable).columns[0].values() -%}
            {%- do present.append(name) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set added_by_the_reader = ['ingest_date', 'filename', 'file_row_number'] -%}
    {%- set missing = declared | reject('in', present + added_by_the_reader) | list -%}
    {%- if files -%}
        (
            select
                *
                {%- for name in missing %},
                    cast(null as {{ dbt.type_string() }}) as {{ name }}
                {%- endfor %}
            from read_parquet(
                /* lake source: {{ source_relation.schema }}.{{ source_relation.identifier }} */
                [{{ files | join(', ') }}],
                hive_partitioning = true,
                hive_types = {'ingest_date': 'date'},
                union_by_name = true,
                filename = true,
                file_row_number = true
            )
        )
    {%- else -%}
        (
            select
                {%- for name in declared | reject('in', added_by_the_reader) %}
                    cast(null as {{ dbt.type_string() }}) as {{ name }},
                {%- endfor %}
                cast(null as date) as ingest_date,
                cast(null as {{ dbt.type_string() }}) as filename,
                cast(null as {{ dbt.type_bigint() }}) as file_row_number
            where false
        )
    {%- endif -%}
{%- endmacro %}

{% macro default__readable_lake_files(source_relation, inventory) -%}
    {{ return(source_relation) }}
{%- endmacro %}

{#
    on-run-end: say in the run's log which landed files were set aside, so a run over a lake
    with unreadable files ends with a clear summary instead of a silent skip. Returns no SQL.
#}
{% macro report_quarantined_files() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set relation = existing_audit_relation('quarantined_files') -%}
    {%- if relation is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set quarantined = run_query(
        "select source_system || '.' || source_name, file_path, error from " ~ relation
        ~ " order by source_system, source_name, file_path"
    ) -%}
    {%- if quarantined.rows | length == 0 -%}
        {{ log("Lake files: every landed file was read (audit.file_reconciliation).", info=true) }}
    {%- else -%}
        {%- set lines = [] -%}
        {%- for row in quarantined.rows -%}
            {%- do lines.append(row[0] ~ ": " ~ row[1] ~ " -- " ~ row[2]) -%}
        {%- endfor -%}
        {{ log("Lake files: " ~ quarantined.rows | length ~ " landed file(s) quarantined, not read "
            ~ "(audit.quarantined_files; fix or re-deliver them):\n  - " ~ lines | join("\n  - "), info=true) }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
