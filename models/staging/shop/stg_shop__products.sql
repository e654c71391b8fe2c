-- Daily catalogue observations: one row per product and dump day.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='_ingest_date') }}

with

deliveries as (
    select * from {{ staged_deliveries(ref('base_shop__products')) }}
)

select
    product_id,
    product_name,
    raw_category,
    list_price_eur,
    is_active,
    extracted_at,
    _ingest_date,
    _source_file,
    _record_hash
from deliveries
