{#-
    Every recorded version of every customer, for point-in-time joins: join on customer_id
    and {{ '{{' }} valid_at('your_timestamp', 'dim_customers_history') {{ '}}' }}, or read a
    moment with {{ '{{' }} as_of(ref('dim_customers_history'), "timestamp '...'") {{ '}}' }}.
-#}
{{ config(materialized='view') }}

select
    dbt_scd_id as customer_version_id,
    customer_id,
    email_pseudonym,
    extract(year from birth_date) as birth_year,
    country_code,
    city,
    postal_code,
    segment,
    is_marketing_opt_in,
    preferred_language,
    created_at,
    updated_at,
    coalesce(dbt_is_deleted = 'True', false) as is_deleted,
    dbt_valid_from,
    dbt_valid_to,
    dbt_valid_to is null as is_current
from {{ ref('snap_customers') }}
