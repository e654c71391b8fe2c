-- Order status records: one row per order and status, first delivery kept.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='_ingest_date') }}

with

first_deliveries as (
    select * from {{ first_deliveries(ref('base_shop__orders'), shop_natural_keys()['orders']) }}
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
from first_deliveries
