-- Clickstream events: one row per event id, first delivery kept, IP address pseudonymised.
with

checked as (
    select * from {{ ref('base_shop__events') }}
    where _rejection_reason is null and _delivery_number = 1
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
from checked
