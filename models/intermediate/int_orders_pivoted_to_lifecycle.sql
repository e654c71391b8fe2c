{#-
    One row per order with the time of each lifecycle step. The attributes of the order are
    repeated on every status record, so an order whose `placed` record was quarantined still
    appears, and its status is the furthest step seen.
-#}
with

status_records as (
    select
        order_id,
        customer_id,
        status,
        placed_at,
        status_at,
        channel,
        currency_code,
        shipping_country_code,
        _ingest_date
    from {{ ref('stg_shop__orders') }}
),

lifecycle as (
    select
        order_id,
        max(customer_id) as customer_id,
        min(placed_at) as placed_at,
        max(channel) as channel,
        max(currency_code) as currency_code,
        max(shipping_country_code) as shipping_country_code,
        max(case when status = 'shipped' then status_at end) as shipped_at,
        max(case when status = 'delivered' then status_at end) as delivered_at,
        max(case when status = 'cancelled' then status_at end) as cancelled_at,
        max(case when status = 'returned' then status_at end) as returned_at,
        max(status_at) as last_status_at,
        min(_ingest_date) as first_ingest_date,
        max(_ingest_date) as last_ingest_date
    from status_records
    group by order_id
)

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
    last_status_at,
    first_ingest_date,
    last_ingest_date,
    case
        when returned_at is not null then 'returned'
        when cancelled_at is not null then 'cancelled'
        when delivered_at is not null then 'delivered'
        when shipped_at is not null then 'shipped'
        else 'placed'
    end as order_status
from lifecycle
