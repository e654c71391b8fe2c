-- Customer change records: each version once, corrections from the day they landed; direct identifiers pseudonymised.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='_ingest_date') }}

with

deliveries as (
    select * from {{ staged_deliveries(ref('base_shop__customers')) }}
)

select
    customer_id,
    {{ pseudonymise('email') }} as email_pseudonym,
    {{ pseudonymise('phone') }} as phone_pseudonym,
    birth_date,
    country_code,
    city,
    postal_code,
    segment,
    is_marketing_opt_in,
    preferred_language,
    created_at,
    updated_at,
    is_deleted,
    _ingest_date,
    _source_file,
    _record_hash
from deliveries
