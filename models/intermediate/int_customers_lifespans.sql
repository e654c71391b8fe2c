{#-
    When each customer started and stopped existing, and when the warehouse learnt each:
    the population of the ML feature tables on any as-of date, as known on that date.
-#}
select
    customer_id,
    min(created_at) as created_at,
    min(_ingest_date) as first_ingest_date,
    min(case when is_deleted then updated_at end) as deleted_at,
    min(case when is_deleted then _ingest_date end) as deletion_ingest_date
from {{ ref('stg_shop__customers') }}
group by customer_id
