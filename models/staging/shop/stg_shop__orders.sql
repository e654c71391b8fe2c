-- Order status records: each version once, corrections from the day they landed (on_conflict: latest).
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='_ingest_date') }}

with

deliveries as (
    select * from {{ staged_deliveries(ref('base_shop__orders')) }}
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
    _source_file,
    _record_hash
from deliveries
