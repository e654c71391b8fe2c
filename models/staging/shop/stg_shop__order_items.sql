-- Order lines: one row per order and line number, first delivery kept.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='_ingest_date') }}

with

first_deliveries as (
    select * from {{ first_deliveries(ref('base_shop__order_items'), shop_natural_keys()['order_items']) }}
)

select
    order_id,
    line_number,
    product_id,
    quantity,
    unit_price,
    _ingest_date,
    _source_file
from first_deliveries
