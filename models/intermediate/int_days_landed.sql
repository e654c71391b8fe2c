{#-
    The calendar of the ML tables: every day on which any source landed a file, readable or
    not, and the as-of date it opens (the morning after). A day whose rows were all
    quarantined, or that brought no orders, is still a day the warehouse knew more on, so it
    still gets its features and serves them. Bounded by the run's window, so a run for day X
    never sees a partition landed after X (a backfill equals the daily runs it replaces).
    Ephemeral: the window is the run's own, never one frozen into a view by an earlier run.
-#}
{{ config(materialized='ephemeral') }}

select distinct
    ingest_date as landed_date,
    cast({{ dbt.dateadd('day', 1, 'ingest_date') }} as date) as as_of_date
from {{ ref('lake_file_inventory') }}
where
    ingest_date is not null
    and ingest_date <= cast('{{ window_date("max_date") }}' as date)
