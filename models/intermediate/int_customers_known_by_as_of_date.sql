{#-
    What the warehouse knew of each customer from one as-of date to the next: from
    known_from_as_of_date (inclusive) to known_until_as_of_date (exclusive, null while
    current), the customer's version valid just before the as-of date among the records
    landed before it (int_customers_versioned). A record that lands late but describes an
    older state never replaces a newer version already known; a correction of the same
    moment (same valid_from, landed later) does. is_deleted marks the stretches in which the
    known version is the deletion: the customer is not in the ML population then.
    A table: the feature groups and the population join it for every as-of date.
-#}
{{ config(materialized='table') }}

with

versions as (
    select
        customer_id,
        birth_date,
        country_code,
        postal_code,
        segment,
        is_marketing_opt_in,
        created_at,
        is_deleted,
        valid_from,
        landed_on,
        known_from_as_of_date
    from {{ ref('int_customers_versioned') }}
),

knowledge_changes as (
    select distinct
        customer_id,
        known_from_as_of_date
    from versions
),

{#- Each change date with every version known by then, the version valid last first. #}

ranked_known_versions as (
    select
        knowledge_changes.customer_id,
        knowledge_changes.known_from_as_of_date,
        versions.birth_date,
        versions.country_code,
        versions.postal_code,
        versions.segment,
        versions.is_marketing_opt_in,
        versions.created_at,
        versions.is_deleted,
        versions.valid_from,
        versions.landed_on,
        row_number() over (
            partition by knowledge_changes.customer_id, knowledge_changes.known_from_as_of_date
            order by versions.valid_from desc, versions.landed_on desc
        ) as recency_rank
    from knowledge_changes
    inner join versions
        on
            knowledge_changes.customer_id = versions.customer_id
            and knowledge_changes.known_from_as_of_date >= versions.known_from_as_of_date
)

select
    customer_id,
    known_from_as_of_date,
    lead(known_from_as_of_date) over (partition by customer_id order by known_from_as_of_date)
        as known_until_as_of_date,
    birth_date,
    country_code,
    postal_code,
    segment,
    is_marketing_opt_in,
    created_at,
    is_deleted,
    valid_from,
    landed_on
from ranked_known_versions
where recency_rank = 1
