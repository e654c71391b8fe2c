{#-
    Feature group: the product categories the customer bought in the last 90 days, as known
    on the as-of date D: the lines landed before D of their orders known at D (placed in the
    window, first record landed before D), each under the category its product had in the
    catalogue as known at D (int_products_versioned; raw labels mapped by the category_map
    seed). A product relabelled later changes no row for an earlier date. One row per
    population row.
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

orders as (
    select
        order_id,
        customer_id,
        placed_at,
        first_ingest_date
    from {{ ref('fct_orders') }}
),

order_lines as (
    select
        order_id,
        product_id,
        quantity,
        _ingest_date
    from {{ ref('stg_shop__order_items') }}
),

product_versions as (
    select
        product_id,
        raw_category,
        known_from_as_of_date,
        coalesce(known_until_as_of_date, cast('9999-12-31' as date)) as known_until_as_of_date
    from {{ ref('int_products_versioned') }}
),

category_map as (
    select
        raw_category,
        category
    from {{ ref('category_map') }}
),

known_lines as (
    select
        population.customer_id,
        population.as_of_date,
        order_lines.product_id,
        order_lines.quantity
    from population
    inner join orders
        on
            population.customer_id = orders.customer_id
            and {{ known_at('population.as_of_date', 'orders.placed_at', 'orders.first_ingest_date') }}
            and orders.placed_at >= {{ window_start_at(longest, 'population.as_of_date') }}
    inner join order_lines
        on
            orders.order_id = order_lines.order_id
            and order_lines._ingest_date < population.as_of_date
),

category_units as (
    select
        known_lines.customer_id,
        known_lines.as_of_date,
        coalesce(category_map.category, 'Unmapped') as category,
        sum(known_lines.quantity) as units
    from known_lines
    inner join product_versions
        on
            known_lines.product_id = product_versions.product_id
            and known_lines.as_of_date >= product_versions.known_from_as_of_date
            and known_lines.as_of_date < product_versions.known_until_as_of_date
    left join category_map
        on product_versions.raw_category = category_map.raw_category
    group by known_lines.customer_id, known_lines.as_of_date, coalesce(category_map.category, 'Unmapped')
),

ranked_categories as (
    select
        customer_id,
        as_of_date,
        category,
        rank() over (partition by customer_id, as_of_date order by units desc) as units_rank
    from category_units
),

category_preferences as (
    select
        customer_id,
        as_of_date,
        count(*) as distinct_categories,
        -- ties go to the alphabetically first category, so the choice is deterministic
        min(case when units_rank = 1 then category end) as favourite_category
    from ranked_categories
    group by customer_id, as_of_date
)

select
    population.customer_id,
    population.as_of_date,
    coalesce(category_preferences.distinct_categories, 0) as distinct_categories_{{ longest }}d,
    category_preferences.favourite_category as favourite_category_{{ longest }}d
from population
left join category_preferences
    on
        population.customer_id = category_preferences.customer_id
        and population.as_of_date = category_preferences.as_of_date
