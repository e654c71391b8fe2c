-- Customer change records: clean, first delivery of each, direct identifiers pseudonymised.
with

checked as (
    select * from {{ ref('base_shop__customers') }}
    where _rejection_reason is null and _delivery_number = 1
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
from checked
