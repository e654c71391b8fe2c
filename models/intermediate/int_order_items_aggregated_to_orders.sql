-- Order lines summed per order, in the order's own currency.
select
    order_id,
    count(*) as line_count,
    cast(sum(quantity) as {{ dbt.type_bigint() }}) as unit_count,
    sum(quantity * unit_price) as gross_amount,
    max(_ingest_date) as last_ingest_date
from {{ ref('stg_shop__order_items') }}
group by order_id
