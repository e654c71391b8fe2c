{#-
    Feature group: the customer's attributes as known on the as-of date, from the version
    valid just before it among the records landed before it (int_customers_known_by_as_of_date,
    rebuilt from the lake: never from when a snapshot happened to run), and their tenure.
-#}
{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='as_of_date', on_schema_change='fail'
) }}

with

population as (
    select
        customer_id,
        as_of_date,
        created_at
    from {{ ref('ml_customer_population') }}
    where {{ as_of_window('as_of_date') }}
),

known_versions as (
    select
        customer_id,
        known_from_as_of_date,
        {{ known_until_or_never('known_until_as_of_date') }} as known_until_as_of_date,
        segment,
        country_code,
        is_marketing_opt_in
    from {{ ref('int_customers_known_by_as_of_date') }}
)

select
    population.customer_id,
    population.as_of_date,
    known_versions.segment,
    known_versions.country_code,
    known_versions.is_marketing_opt_in,
    {{ dbt.datediff('population.created_at', 'cast(population.as_of_date as ' ~ dbt.type_timestamp() ~ ')', 'day') }}
        as tenure_days
from population
left join known_versions
    on
        population.customer_id = known_versions.customer_id
        and population.as_of_date >= known_versions.known_from_as_of_date
        and population.as_of_date < known_versions.known_until_as_of_date
