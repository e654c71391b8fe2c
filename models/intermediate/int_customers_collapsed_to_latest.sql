{#-
    The latest version of each live customer: the relation snap_customers versions. A
    customer whose latest record deletes them leaves this relation, and the snapshot
    (hard_deletes: new_record) records that as a closing version. A correction (the same
    customer and updated_at re-sent with other values, on_conflict: latest) is the latest
    version; version_updated_at orders it one microsecond after the version it corrects, so
    the snapshot's timestamp strategy records it as a change.
-#}
with

customer_changes as (
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
        updated_at,
        is_deleted,
        row_number() over (
            partition by customer_id
            order by updated_at desc, _ingest_date desc, _source_file desc
        ) as recency_rank,
        row_number() over (
            partition by customer_id, updated_at
            order by _ingest_date, _source_file
        ) - 1 as corrections_before
    from {{ ref('stg_shop__customers') }}
)

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
    updated_at,
    {{ dbt.dateadd('microsecond', 'corrections_before', 'updated_at') }} as version_updated_at
from customer_changes
where recency_rank = 1 and not is_deleted
