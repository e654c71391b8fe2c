{#-
    Every file landed under the folder of a lake-backed source (every source table whose
    YAML has meta.lake, of every system: macros/lake_sources.sql), inspected: readable (the base_
    models read it) or quarantined (they do not; audit.quarantined_files says why). The
    checks are warehouse/lake_inventory.py's, called through the DuckDB function
    lake_file_inspection (warehouse/duckdb_plugin.py). Rebuilt by every run: the lake
    is the truth, and a file fixed or removed there changes its row. A file unchanged since
    the previous run (same path, size and modification time) keeps its inspection, unless
    the run is a --full-refresh.
    inspected_at is when the warehouse first saw the file's current bytes (the run that
    inspected them): daily runs rewrite the older partitions of their lookback only when a
    file there was inspected after the model's last successful build
    (macros/ingest_window.sql, windowed_rewrite_start).
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
        cast(json_extract(inspection, '$.columns') as {{ dbt.type_string() }}[]) as file_columns,
        make_timestamp(cast(json_extract(inspection, '$.modified_us') as bigint)) as modified_at
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
    files.file_columns,
    files.modified_at,
    {%- if known_inventory is not none %}
        -- the same test as the reuse of an inspection (warehouse/lake_inventory.py)
        coalesce(known.inspected_at, {{ run_started_timestamp() }}) as inspected_at
    from files
    left join {{ known_inventory }} as known
        on
            files.file_path = known.file_path
            and files.size_bytes = known.size_bytes
            and files.modified_at = known.modified_at
    {%- else %}
        {{ run_started_timestamp() }} as inspected_at
    from files
    {%- endif %}
