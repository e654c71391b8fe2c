{#-
    Order lines summed per order and landing day, in the order's own currency: what an
    order was known to be worth on each day, for the labels (ml_customer_labels) and the
    orders feature group, which count only the lines landed before their cut. Lines nearly always land with
    their order's `placed` record, so this is about one row per order: the labels join it
    without multiplying their rows.
-#}
select
    order_id,
    _ingest_date,
    count(*) as line_count,
    sum(quantity * unit_price) as gross_amount
from {{ ref('stg_shop__order_items') }}
group by order_id, _ingest_date
