{#-
    One row per order: its lifecycle, its lines summed, and its value in EUR.
    Incremental: a run recomputes, from their whole history, only the orders that received a
    status record or a line in the run's ingest window, so a late "delivered" updates its
    order and re-running a day changes nothing.
-#}
{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='order_id', on_schema_change='fail'
) }}
-- The incremental branch reads these directly:
-- depends_on: {{ ref('stg_shop__orders') }}
-- depends_on: {{ ref('stg_shop__order_items') }}

with

{% if is_incremental() %}
    {%- set window_start = incremental_window_start('last_ingest_date') %}
    touched_orders as (
        select order_id from {{ ref('stg_shop__orders') }}
        where {{ incremental_window('_ingest_date', start=window_start) }}
        union
        select order_id from {{ ref('stg_shop__order_items') }}
        where {{ incremental_window('_ingest_date', start=window_start) }}
    ),
{% endif %}

lifecycle as (
    select
        order_id,
        customer_id,
        placed_at,
        channel,
        currency_code,
        shipping_country_code,
        shipped_at,
        delivered_at,
        cancelled_at,
        returned_at,
        order_status,
        first_ingest_date,
        last_ingest_date
    from {{ ref('int_orders_pivoted_to_lifecycle') }}
    {% if is_incremental() %}
        where order_id in (select touched_orders.order_id from touched_orders)
    {% endif %}
),

order_totals as (
    select
        order_id,
        line_count,
        unit_count,
        gross_amount,
        last_ingest_date
    from {{ ref('int_order_items_aggregated_to_orders') }}
),

currencies as (
    select
        currency_code,
        eur_per_unit
    from {{ ref('currencies') }}
)

select
    lifecycle.order_id,
    lifecycle.customer_id,
    lifecycle.placed_at,
    cast(lifecycle.placed_at as date) as placed_date,
    lifecycle.channel,
    lifecycle.shipping_country_code,
    lifecycle.order_status,
    lifecycle.shipped_at,
    lifecycle.delivered_at,
    lifecycle.cancelled_at,
    lifecycle.returned_at,
    coalesce(order_totals.line_count, 0) as line_count,
    coalesce(order_totals.unit_count, 0) as unit_count,
    lifecycle.currency_code,
    cast(coalesce(order_totals.gross_amount, 0) as decimal(14, 2)) as gross_amount,
    cast(coalesce(order_totals.gross_amount, 0) * currencies.eur_per_unit as decimal(14, 2))
        as gross_amount_eur,
    lifecycle.first_ingest_date,
    greatest(lifecycle.last_ingest_date, coalesce(order_totals.last_ingest_date, lifecycle.last_ingest_date))
        as last_ingest_date
from lifecycle
left join order_totals
    on lifecycle.order_id = order_totals.order_id
left join currencies
    on lifecycle.currency_code = currencies.currency_code
