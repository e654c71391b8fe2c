-- Order status records: one row per order and status, first delivery kept.
with

checked as (
    select * from {{ ref('base_shop__orders') }}
    where _rejection_reason is null and _delivery_number = 1
)

select
    order_id,
    customer_id,
    status,
    placed_at,
    status_at,
    channel,
    currency_code,
    shipping_country_code,
    _ingest_date,
    _source_file
from checked
