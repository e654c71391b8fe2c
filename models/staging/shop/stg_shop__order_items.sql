-- Order lines: one row per order and line number, first delivery kept.
with

checked as (
    select * from {{ ref('base_shop__order_items') }}
    where _rejection_reason is null and _delivery_number = 1
)

select
    order_id,
    line_number,
    product_id,
    quantity,
    unit_price,
    _ingest_date,
    _source_file
from checked
