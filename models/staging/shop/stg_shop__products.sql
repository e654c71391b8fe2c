-- Daily catalogue observations: one row per product and dump day.
with

checked as (
    select * from {{ ref('base_shop__products') }}
    where _rejection_reason is null and _delivery_number = 1
)

select
    product_id,
    product_name,
    raw_category,
    list_price_eur,
    is_active,
    extracted_at,
    _ingest_date,
    _source_file
from checked
