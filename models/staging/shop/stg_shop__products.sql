-- Daily catalogue observations: one row per product and dump day.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='_ingest_date') }}

with

first_deliveries as (
    select * from {{ first_deliveries(ref('base_shop__products'), shop_natural_keys()['products']) }}
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
from first_deliveries
