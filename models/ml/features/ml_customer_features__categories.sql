{#-
    Feature group: the product categories the customer bought in the last 90 days, as known
    on the as-of date D: the lines landed before D of their orders known at D (placed in the
    window, first record landed before D), each under the category its product had in the
    catalogue as known at D (int_products_versioned; raw labels mapped by the category_map
    seed). A product relabelled later changes no row for an earlier date. One row per
    population row.

    Each line counts over one stretch of as-of dates: from the first at which it is known
    until its order leaves the window, cut where its product's category changes. A
    customer's categories change only where one of those stretches starts or ends, so they
    are computed once per stretch between such dates and joined to the as-of dates within
    it, not once per as-of date and line (90 times as many rows, too many for scale L's
    2 GiB: bench/RESULTS.md).
-#}
{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='as_of_date', on_schema_change='fail'
) }}
{%- set longest = feature_windows() | max %}
{%- set start = as_of_window_start() %}
{%- set end_exclusive = days_before(as_of_window_end(), -1) %}

with

population as (
    select
        customer_id,
        as_of_date
    from {{ ref('ml_customer_population') }}
    where {{ as_of_window('as_of_date', start=start) }}
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
        {{ known_until_or_never('known_until_as_of_date') }} as known_until_as_of_date
    from {{ ref('int_products_versioned') }}
),

category_map as (
    select
        raw_category,
        category
    from {{ ref('category_map') }}
),

line_stretches as (
    select
        orders.customer_id,
        order_lines.product_id,
        order_lines.quantity,
        {{ first_known_as_of_date('orders.placed_at', 'greatest(orders.first_ingest_date, order_lines._ingest_date)') }}
            as counted_from,
        {{ window_left_on(longest, 'orders.placed_at') }} as counted_until
    from orders
    inner join order_lines
        on orders.order_id = order_lines.order_id
),

-- the stretches cut by the product's versions and by this run's as-of dates
category_stretches as (
    select
        line_stretches.customer_id,
        coalesce(category_map.category, 'Unmapped') as category,
        line_stretches.quantity,
        greatest(
            line_stretches.counted_from,
            product_versions.known_from_as_of_date,
            cast('{{ start }}' as date)
        ) as counted_from,
        least(
            line_stretches.counted_until,
            product_versions.known_until_as_of_date,
            cast('{{ end_exclusive }}' as date)
        ) as counted_until
    from line_stretches
    inner join product_versions
        on
            line_stretches.product_id = product_versions.product_id
            and line_stretches.counted_from < product_versions.known_until_as_of_date
            and line_stretches.counted_until > product_versions.known_from_as_of_date
    left join category_map
        on product_versions.raw_category = category_map.raw_category
),

counted_stretches as (
    select
        customer_id,
        category,
        quantity,
        counted_from,
        counted_until
    from category_stretches
    where counted_from < counted_until
),

stretch_ends as (
    select
        customer_id,
        counted_from as changed_on
    from counted_stretches
    union
    select
        customer_id,
        counted_until as changed_on
    from counted_stretches
),

unchanged_stretches as (
    select
        customer_id,
        changed_on as unchanged_from,
        lead(changed_on) over (partition by customer_id order by changed_on) as unchanged_until
    from stretch_ends
),

category_units as (
    select
        unchanged_stretches.customer_id,
        unchanged_stretches.unchanged_from,
        unchanged_stretches.unchanged_until,
        counted_stretches.category,
        sum(counted_stretches.quantity) as units
    from unchanged_stretches
    inner join counted_stretches
        on
            unchanged_stretches.customer_id = counted_stretches.customer_id
            and unchanged_stretches.unchanged_from >= counted_stretches.counted_from
            and unchanged_stretches.unchanged_from < counted_stretches.counted_until
    group by
        unchanged_stretches.customer_id,
        unchanged_stretches.unchanged_from,
        unchanged_stretches.unchanged_until,
        counted_stretches.category
),

ranked_categories as (
    select
        customer_id,
        unchanged_from,
        unchanged_until,
        category,
        rank() over (partition by customer_id, unchanged_from order by units desc) as units_rank
    from category_units
),

category_preferences as (
    select
        customer_id,
        unchanged_from,
        unchanged_until,
        count(*) as distinct_categories,
        -- ties go to the alphabetically first category, so the choice is deterministic
        min(case when units_rank = 1 then category end) as favourite_category
    from ranked_categories
    group by customer_id, unchanged_from, unchanged_until
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
        and population.as_of_date >= category_preferences.unchanged_from
        and population.as_of_date < category_preferences.unchanged_until
