-- Ticket versions: each once, corrections from the day they landed; the email pseudonymised, the subject dropped.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='_ingest_date') }}

with

deliveries as (
    select * from {{ staged_deliveries(ref('base_support__tickets')) }}
)

select
    ticket_id,
    {{ pseudonymise('customer_email') }} as customer_email_pseudonym,
    channel,
    category,
    created_at,
    first_response_at,
    resolved_at,
    satisfaction_score,
    status,
    updated_at,
    _ingest_date,
    _source_file,
    _record_hash
from deliveries
