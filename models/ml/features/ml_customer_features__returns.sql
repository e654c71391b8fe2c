{#-
    Feature group: the share of the customer's deliveries of the last 90 days that were
    returned, from the status records as the feed had reported them before the as-of date
    (status time before D, landed before D). One row per population row; null without a
    delivery in the window.
-#}
{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='as_of_date', on_schema_change='fail'
) }}
{%- set longest = feature_windows() | max %}

with

population as (
    select
        customer_id,
        as_of_date
    from {{ ref('ml_customer_population') }}
    where {{ as_of_window('as_of_date') }}
),

outcome_records as (
    select
        order_id,
        customer_id,
        status,
        status_at,
        _ingest_date
    from {{ ref('stg_shop__orders') }}
    where status in ('delivered', 'returned')
),

known_outcomes as (
    select
        population.customer_id,
        population.as_of_date,
        count(distinct case when outcome_records.status = 'delivered' then outcome_records.order_id end)
            as delivered_orders,
        count(distinct case when outcome_records.status = 'returned' then outcome_records.order_id end)
            as returned_orders
    from population
    inner join outcome_records
        on
            population.customer_id = outcome_records.customer_id
            and {{ known_at('population.as_of_date', 'outcome_records.status_at', 'outcome_records._ingest_date') }}
            and outcome_records.status_at >= {{ window_start_at(longest, 'population.as_of_date') }}
    group by population.customer_id, population.as_of_date
)

select
    population.customer_id,
    population.as_of_date,
    cast(
        1.0 * known_outcomes.returned_orders / nullif(known_outcomes.delivered_orders, 0)
        as decimal(9, 4)
    ) as return_rate_{{ longest }}d
from population
left join known_outcomes
    on
        population.customer_id = known_outcomes.customer_id
        and population.as_of_date = known_outcomes.as_of_date
