{#-
    The customers' bitemporal history, rebuilt from the lake's change feed: one row per
    clean change record (the full customer after a change), with
      valid time: valid_from (the record's updated_at, when it became true in the business)
        to valid_to (the next record's valid_from, as known today);
      knowledge time: landed_on (the ingest date of the partition it landed in), and
        known_from_as_of_date, the first as-of date allowed to see it (macros/point_in_time.sql).
    It depends only on the lake, never on when a job ran, unlike snap_customers, which
    records what each run saw. int_customers_known_by_as_of_date reads it as known at each
    as-of date.
-#}
select
    customer_id,
    email_pseudonym,
    phone_pseudonym,
    birth_date,
    country_code,
    city,
    postal_code,
    segment,
    is_marketing_opt_in,
    preferred_language,
    created_at,
    is_deleted,
    updated_at as valid_from,
    lead(updated_at) over (partition by customer_id order by updated_at, _ingest_date) as valid_to,
    _ingest_date as landed_on,
    {{ first_known_as_of_date('updated_at', '_ingest_date') }} as known_from_as_of_date
from {{ ref('stg_shop__customers') }}
