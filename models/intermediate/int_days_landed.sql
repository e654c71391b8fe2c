{#-
    The calendar of the ML tables: every day on which any source landed a file, readable or
    not, and the as-of date it opens (the morning after). A day whose rows were all
    quarantined, or that brought no orders, is still a day the warehouse knew more on, so it
    still gets its features and serves them. The models that read it keep to their run's
    window (as_of_window), so a run for day X never takes a day landed after X. A partition
    dated in the future has not landed on its day yet: it is held, not a day.
-#}
select distinct
    ingest_date as landed_date,
    cast({{ dbt.dateadd('day', 1, 'ingest_date') }} as date) as as_of_date
from {{ ref('lake_file_inventory') }}
where
    ingest_date is not null
    and quarantine_rule is distinct from 'partition_date_in_the_future'
