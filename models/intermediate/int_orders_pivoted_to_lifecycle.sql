{#-
    One row per order with the time of each lifecycle step. The attributes of the order are
    repeated on every status record, so an order whose `placed` record was quarantined still
    appears, and its status is the furthest step seen. The order's attributes are those of
    its most recently landed status record. A status record corrected by a later delivery
    (on_conflict: latest in the sources YAML) counts in its latest version; the ingest
    dates span every version, the first being when the order became known.
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
        _ingest_date,
        row_number() over (
            partition by order_id, status
            order by _ingest_date desc, _source_file desc
        ) as version_recency,
        row_number() over (
            partition by order_id
            order by _ingest_date desc, _source_file desc, status_at desc, status asc
        ) as delivery_recency
    from {{ ref('stg_shop__orders') }}
),

landings as (
    select
        order_id,
        min(_ingest_date) as first_ingest_date,
        max(_ingest_date) as last_ingest_date
    from status_records
    group by order_id
),

lifecycle as (
    select
        order_id,
        max(case when delivery_recency = 1 then customer_id end) as customer_id,
        max(case when delivery_recency = 1 then placed_at end) as placed_at,
        max(case when delivery_recency = 1 then channel end) as channel,
        max(case when delivery_recency = 1 then currency_code end) as currency_code,
        max(case when delivery_recency = 1 then shipping_country_code end) as shipping_country_code,
        max(case when status = 'shipped' then status_at end) as shipped_at,
        max(case when status = 'delivered' then status_at end) as delivered_at,
        max(case when status = 'cancelled' then status_at end) as cancelled_at,
        max(case when status = 'returned' then status_at end) as returned_at,
        max(status_at) as last_status_at
    from status_records
    where version_recency = 1
    group by order_id
)

select
    lifecycle.order_id,
    lifecycle.customer_id,
    lifecycle.placed_at,
    lifecycle.channel,
    lifecycle.currency_code,
    lifecycle.shipping_country_code,
    lifecycle.shipped_at,
    lifecycle.delivered_at,
    lifecycle.cancelled_at,
    lifecycle.returned_at,
    lifecycle.last_status_at,
    landings.first_ingest_date,
    landings.last_ingest_date,
    case
        when lifecycle.returned_at is not null then 'returned'
        when lifecycle.cancelled_at is not null then 'cancelled'
        when lifecycle.delivered_at is not null then 'delivered'
        when lifecycle.shipped_at is not null then 'shipped'
        else 'placed'
    end as order_status
from lifecycle
inner join landings
    on lifecycle.order_id = landings.order_id
