-- Each product as it appeared in the most recent catalogue dump that listed it.
with

product_observations as (
    select
        product_id,
        product_name,
        raw_category,
        list_price_eur,
        is_active,
        extracted_at,
        row_number() over (
            partition by product_id
            order by _ingest_date desc
        ) as recency_rank
    from {{ ref('stg_shop__products') }}
)

select
    product_id,
    product_name,
    raw_category,
    list_price_eur,
    is_active,
    extracted_at
from product_observations
where recency_rank = 1
