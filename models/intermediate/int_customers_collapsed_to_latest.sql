{#-
    The latest version of each live customer: the relation snap_customers versions. A
    customer whose latest record deletes them leaves this relation, and the snapshot
    (hard_deletes: new_record) records that as a closing version.
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
            order by updated_at desc, _ingest_date desc
        ) as recency_rank
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
    updated_at
from customer_changes
where recency_rank = 1 and not is_deleted
