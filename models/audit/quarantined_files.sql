{#-
    Landed files the warehouse cannot read (docs/reliability.md): a truncated or empty
    file, another format, a partition folder that is not ingest_date=YYYY-MM-DD, a schema
    without the source's key, text that is not UTF-8. None of their rows reach any model;
    fix or re-deliver the file and the next run reads it.
-#}
select
    source_system,
    source_name,
    file_path,
    partition_folder,
    ingest_date,
    size_bytes,
    error
from {{ ref('lake_file_inventory') }}
where status = 'quarantined'
