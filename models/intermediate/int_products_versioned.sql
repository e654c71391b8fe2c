{#-
    The catalogue's bitemporal history, rebuilt from the lake's daily full dumps: one row per
    version of a product, a run of consecutive dumps that listed it with the same name,
    category, price and status. Valid time: valid_from (the extraction time of the first dump
    of the version) to valid_to (that of the next version). Knowledge time: landed_on (the
    ingest date of that first dump) and the as-of dates from which the version is the one
    known (known_from_as_of_date, inclusive) until the next one is (known_until_as_of_date,
    exclusive, null while current). A product left out of later dumps keeps its last
    version. Features read the category as known on their as-of date, so relabelling a
    product changes no past feature row.
-#}
{{ config(materialized='table') }}

with

observations as (
    select
        product_id,
        product_name,
        raw_category,
        list_price_eur,
        is_active,
        extracted_at,
        _ingest_date,
        lag(product_name) over dump_order as previous_product_name,
        lag(raw_category) over dump_order as previous_raw_category,
        lag(list_price_eur) over dump_order as previous_list_price_eur,
        lag(is_active) over dump_order as previous_is_active,
        lag(_ingest_date) over dump_order as previous_ingest_date
    from {{ ref('stg_shop__products') }}
    window dump_order as (partition by product_id order by _ingest_date)
),

version_starts as (
    select
        product_id,
        product_name,
        raw_category,
        list_price_eur,
        is_active,
        extracted_at as valid_from,
        _ingest_date as landed_on,
        {{ first_known_as_of_date('extracted_at', '_ingest_date') }} as known_from_as_of_date
    from observations
    where
        previous_ingest_date is null
        or product_name is distinct from previous_product_name
        or raw_category is distinct from previous_raw_category
        or list_price_eur is distinct from previous_list_price_eur
        or is_active is distinct from previous_is_active
)

select
    product_id,
    product_name,
    raw_category,
    list_price_eur,
    is_active,
    valid_from,
    lead(valid_from) over (partition by product_id order by landed_on) as valid_to,
    landed_on,
    known_from_as_of_date,
    lead(known_from_as_of_date) over (partition by product_id order by landed_on) as known_until_as_of_date
from version_starts
