-- Products as they are now, with the raw category label mapped to the reference taxonomy.
with

current_versions as (
    select
        product_id,
        product_name,
        raw_category,
        list_price_eur,
        is_active,
        dbt_valid_from
    from {{ ref('snap_products') }}
    where dbt_valid_to is null
),

category_map as (
    select
        raw_category,
        category,
        department
    from {{ ref('category_map') }}
)

select
    current_versions.product_id,
    current_versions.product_name,
    coalesce(category_map.category, 'Unmapped') as category,
    coalesce(category_map.department, 'Unmapped') as department,
    current_versions.raw_category,
    current_versions.list_price_eur,
    current_versions.is_active,
    current_versions.dbt_valid_from as version_valid_from
from current_versions
left join category_map
    on current_versions.raw_category = category_map.raw_category
