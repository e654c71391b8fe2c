{#-
    Every customer the shop has ever sent us, as they are now: the current snapshot version
    for live customers, the closing version for deleted ones. A customer deleted before the
    first snapshot run never had a version, and is kept with the deletion flag and null
    attributes, so that facts about them still join.
-#}
with

customers as (
    select
        customer_id,
        created_at,
        deleted_at
    from {{ ref('int_customers_lifespans') }}
),

current_versions as (
    select
        customer_id,
        email_pseudonym,
        birth_date,
        country_code,
        city,
        postal_code,
        segment,
        is_marketing_opt_in,
        preferred_language,
        updated_at,
        dbt_valid_from
    from {{ ref('snap_customers') }}
    where dbt_valid_to is null
),

countries as (
    select
        country_code,
        country_name,
        region
    from {{ ref('countries') }}
)

select
    customers.customer_id,
    current_versions.email_pseudonym,
    extract(year from current_versions.birth_date) as birth_year,
    current_versions.country_code,
    countries.country_name,
    countries.region,
    current_versions.city,
    current_versions.postal_code,
    current_versions.segment,
    current_versions.is_marketing_opt_in,
    current_versions.preferred_language,
    customers.created_at,
    current_versions.updated_at,
    customers.deleted_at is not null as is_deleted,
    customers.deleted_at,
    current_versions.dbt_valid_from as version_valid_from
from customers
left join current_versions
    on customers.customer_id = current_versions.customer_id
left join countries
    on current_versions.country_code = countries.country_code
