-- Customer change records: clean, first delivery of each, direct identifiers pseudonymised.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='_ingest_date') }}

with

first_deliveries as (
    select * from {{ first_deliveries(ref('base_shop__customers'), shop_natural_keys()['customers']) }}
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
    _source_file
from first_deliveries
