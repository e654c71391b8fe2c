-- Leakage guard: no feature row may have seen an order or event at or after its as-of date.
select
    customer_id,
    as_of_date,
    last_order_placed_at,
    last_event_at
from {{ ref('ml_customer_features', v=1) }}
where
    last_order_placed_at >= cast(as_of_date as {{ dbt.type_timestamp() }})
    or last_event_at >= cast(as_of_date as {{ dbt.type_timestamp() }})
