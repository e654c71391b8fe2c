-- Order lines: one row per order and line number; a re-delivery with other values is quarantined.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='_ingest_date') }}

with

deliveries as (
    select * from {{ staged_deliveries(ref('base_shop__order_items')) }}
)

select
    order_id,
    line_number,
    product_id,
    quantity,
    unit_price,
    _ingest_date,
    _source_file,
    _record_hash
from deliveries
