{#-
    Landed files the warehouse cannot read (docs/reliability.md), each with the rule it
    broke (warehouse/lake_inventory.py lists them): a truncated or empty file, another
    format, a partition folder that is not ingest_date=YYYY-MM-DD or is dated in the future,
    a schema without the source's key or with a column twice, a column of another type than
    its contract, data DuckDB cannot read (a corrupt page, text that is not UTF-8), a value
    that does not cast. None of their rows reach any model; fix or re-deliver the file (a
    future partition waits for its day) and the next run reads it.
-#}
select
    source_system,
    source_name,
    file_path,
    partition_folder,
    ingest_date,
    size_bytes,
    quarantine_rule,
    error
from {{ ref('lake_file_inventory') }}
where status = 'quarantined'
