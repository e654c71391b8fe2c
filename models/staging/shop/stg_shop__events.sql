-- Clickstream events: one row per event id; a re-delivery with other values is quarantined. IP pseudonymised.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='_ingest_date') }}

with

deliveries as (
    select * from {{ staged_deliveries(ref('base_shop__events')) }}
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
    _source_file,
    _record_hash
from deliveries
