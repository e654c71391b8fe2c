{#-
    Feature group: the customer's orders as known on the as-of date D, in trailing windows
    of 7, 30 and 90 days and over their lifetime. An order counts when it was placed before
    D and its first status record had landed before D; its value is the sum of its lines
    landed before D, in EUR at the reference rate (a line that lands later adds to the value
    from the as-of date after it landed, never before). One row per population row.
-#}
{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='as_of_date', on_schema_change='fail'
) }}
{%- set windows = feature_windows() %}

with

population as (
    select
        customer_id,
        as_of_date
    from {{ ref('ml_customer_population') }}
    where {{ as_of_window('as_of_date') }}
),

orders as (
    select
        order_id,
        customer_id,
        placed_at,
        first_ingest_date,
        currency_code
    from {{ ref('fct_orders') }}
),

currencies as (
    select
        currency_code,
        eur_per_unit
    from {{ ref('currencies') }}
),

line_landings as (
    select
        order_id,
        _ingest_date,
        gross_amount
    from {{ ref('int_order_items_aggregated_to_landings') }}
),

known_orders as (
    select
        population.customer_id,
        population.as_of_date,
        orders.order_id,
        orders.placed_at,
        orders.currency_code
    from population
    inner join orders
        on
            population.customer_id = orders.customer_id
            and {{ known_at('population.as_of_date', 'orders.placed_at', 'orders.first_ingest_date') }}
),

known_order_values as (
    select
        known_orders.customer_id,
        known_orders.as_of_date,
        known_orders.order_id,
        known_orders.placed_at,
        -- rounded to the cent per landing of lines, as the labels' spend is
        coalesce(sum(cast(line_landings.gross_amount * currencies.eur_per_unit as decimal(14, 2))), 0)
            as gross_amount_eur
    from known_orders
    left join line_landings
        on
            known_orders.order_id = line_landings.order_id
            and known_orders.as_of_date > line_landings._ingest_date
    left join currencies
        on known_orders.currency_code = currencies.currency_code
    group by known_orders.customer_id, known_orders.as_of_date, known_orders.order_id, known_orders.placed_at
),

order_history as (
    select
        customer_id,
        as_of_date,
        count(*) as orders_lifetime,
        {%- for days in windows %}
            {%- set in_window = 'placed_at >= ' ~ window_start_at(days, 'as_of_date') %}
            cast(sum(case when {{ in_window }} then 1 else 0 end) as {{ dbt.type_bigint() }}) as orders_{{ days }}d,
            sum(case when {{ in_window }} then gross_amount_eur else 0 end) as revenue_eur_{{ days }}d,
        {%- endfor %}
        max(placed_at) as last_order_placed_at
    from known_order_values
    group by customer_id, as_of_date
)

select
    population.customer_id,
    population.as_of_date,
    coalesce(order_history.orders_lifetime, 0) as orders_lifetime,
    {%- set as_of_at = 'cast(population.as_of_date as ' ~ dbt.type_timestamp() ~ ')' %}
    {{ dbt.datediff('order_history.last_order_placed_at', as_of_at, 'day') }}
        as days_since_last_order,
    {%- for days in windows %}
        coalesce(order_history.orders_{{ days }}d, 0) as orders_{{ days }}d,
        cast(coalesce(order_history.revenue_eur_{{ days }}d, 0) as decimal(14, 2)) as revenue_eur_{{ days }}d,
        cast(
            order_history.revenue_eur_{{ days }}d / nullif(order_history.orders_{{ days }}d, 0)
            as decimal(14, 2)
        ) as avg_order_value_eur_{{ days }}d,
    {%- endfor %}
    order_history.last_order_placed_at
from population
left join order_history
    on
        population.customer_id = order_history.customer_id
        and population.as_of_date = order_history.as_of_date
