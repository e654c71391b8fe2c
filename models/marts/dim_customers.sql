-- Customers as they are now (the current snapshot version), with their country resolved.
with

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
        created_at,
        updated_at,
        is_deleted,
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
    current_versions.customer_id,
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
    current_versions.created_at,
    current_versions.updated_at,
    current_versions.is_deleted,
    current_versions.dbt_valid_from as version_valid_from
from current_versions
left join countries
    on current_versions.country_code = countries.country_code
