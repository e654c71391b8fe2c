{#-
    When each customer started and stopped existing, from the complete change feed: the
    population of the ML feature tables on any as-of date.
-#}
select
    customer_id,
    min(created_at) as created_at,
    min(case when is_deleted then updated_at end) as deleted_at
from {{ ref('stg_shop__customers') }}
group by customer_id
