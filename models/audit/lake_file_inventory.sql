{#-
    Every file landed under the folder of a lake-backed source (every source table whose
    YAML has meta.lake, of every system: macros/lake_sources.sql), inspected: readable (the base_
    models read it) or quarantined (they do not; audit.quarantined_files says why). The
    checks are warehouse/lake_inventory.py's, called through the DuckDB function
    lake_file_inspection (warehouse/duckdb_plugin.py). Rebuilt by every run: the lake
    is the truth, and a file fixed or removed there changes its row. A file unchanged since
    the previous run (same path, size and modification time, inspected under the same checks
    and contract) keeps its inspection, unless the run is a --full-refresh; a partition dated
    in the future is judged again by every run.
    inspected_at is when the warehouse first saw the file's current bytes and verdict (the
    run that inspected them; a held future partition that becomes readable is new): daily
    runs rewrite the older partitions of their lookback only when a file there was
    inspected after the model's last successful build (macros/ingest_window.sql,
    windowed_rewrite_start).
-#}
{%- set known_inventory = reusable_lake_inventory(load_relation(this)) %}

with

inspections as (
    {%- for source in lake_sources() %}
        {{ lake_file_inspections(source, known_inventory=known_inventory) }}
        {% if not loop.last %}union all{% endif %}
    {%- else %}
        select
            cast(null as {{ dbt.type_string() }}) as source_system,
            cast(null as {{ dbt.type_string() }}) as source_name,
            cast(null as {{ dbt.type_string() }}) as inspection
        where false
    {%- endfor %}
),

files as (
    select
        source_system,
        source_name,
        json_extract_string(inspection, '$.path') as file_path,
        json_extract_string(inspection, '$.partition_folder') as partition_folder,
        cast(json_extract_string(inspection, '$.ingest_date') as date) as ingest_date,
        cast(json_extract_string(inspection, '$.size_bytes') as bigint) as size_bytes,
        json_extract_string(inspection, '$.status') as status,
        json_extract_string(inspection, '$.error') as error,
        json_extract_string(inspection, '$.rule') as quarantine_rule,
        cast(json_extract(inspection, '$.columns') as {{ dbt.type_string() }}[]) as file_columns,
        make_timestamp(cast(json_extract(inspection, '$.modified_us') as bigint)) as modified_at,
        json_extract_string(inspection, '$.checks') as checks_fingerprint
    from inspections
)

select
    files.source_system,
    files.source_name,
    files.file_path,
    files.partition_folder,
    files.ingest_date,
    files.size_bytes,
    files.status,
    files.error,
    files.quarantine_rule,
    files.file_columns,
    files.modified_at,
    files.checks_fingerprint,
    {%- if known_inventory is not none %}
        -- the same test as the reuse of an inspection (warehouse/lake_inventory.py)
        coalesce(known.inspected_at, {{ run_started_timestamp() }}) as inspected_at
    from files
    left join {{ known_inventory }} as known
        on
            files.file_path = known.file_path
            and files.size_bytes = known.size_bytes
            and files.modified_at = known.modified_at
            and files.error is not distinct from known.error
    {%- else %}
        {{ run_started_timestamp() }} as inspected_at
    from files
    {%- endif %}
