{#-
    The population of the customer features: one row per customer alive on each as-of date,
    as known on that date. The as-of dates are the mornings after the landed days
    (int_days_landed); a customer is alive on D when a record of theirs is known at D and the
    newest one known is not a deletion (int_customers_known_by_as_of_date). Every feature
    group computes its columns for these rows, and ml_customer_features joins them here.
    Incremental by as-of date: a row never changes once its date has passed.
    var dataset_as_of (YYYY-MM-DD) caps the as-of dates, to rebuild a registered version.
-#}
{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='as_of_date', on_schema_change='fail'
) }}

with

as_of_dates as (
    select as_of_date
    from {{ ref('int_days_landed') }}
    where
        as_of_date <= cast('{{ validated_date_var("dataset_as_of") }}' as date)
        and {{ as_of_window('as_of_date') }}
),

known_customers as (
    select
        customer_id,
        known_from_as_of_date,
        {{ known_until_or_never('known_until_as_of_date') }} as known_until_as_of_date,
        created_at,
        is_deleted
    from {{ ref('int_customers_known_by_as_of_date') }}
)

select
    known_customers.customer_id,
    as_of_dates.as_of_date,
    known_customers.created_at
from as_of_dates
inner join known_customers
    on
        as_of_dates.as_of_date >= known_customers.known_from_as_of_date
        and as_of_dates.as_of_date < known_customers.known_until_as_of_date
where not known_customers.is_deleted
