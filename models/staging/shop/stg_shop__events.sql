-- Clickstream events: one row per event id, first delivery kept, IP address pseudonymised.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='_ingest_date') }}

with

first_deliveries as (
    select * from {{ first_deliveries(ref('base_shop__events'), shop_natural_keys()['events']) }}
)

select
    event_id,
    session_id,
    customer_id,
    anonymous_id,
    event_type,
    event_at,
    page_url,
    search_query,
    product_id,
    device,
    {{ pseudonymise('ip_address') }} as ip_address_pseudonym,
    _ingest_date,
    _source_file
from first_deliveries
