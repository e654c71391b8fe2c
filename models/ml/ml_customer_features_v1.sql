{#-
    Training features: one row per customer alive on an as-of date (ml_customer_population),
    for every as-of date (the morning after each landed day), with the columns of the
    feature groups (models/ml/features/) and RFM scores. Each group cuts its inputs at the
    as-of date twice: valid before D and landed before D (macros/point_in_time.sql), so
    later data never changes a row. Incremental by as-of date; ml_customer_features_latest
    serves the rows of the newest one. A new feature is a new group model joined here.
    var dataset_as_of (YYYY-MM-DD) caps the as-of dates, to rebuild a registered version.
-#}
{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='as_of_date', on_schema_change='fail'
) }}
{%- set windows = feature_windows() %}
{%- set longest = windows | max %}
{%- set start = as_of_window_start() %}

with

population as (
    select
        customer_id,
        as_of_date
    from {{ ref('ml_customer_population') }}
    where
        {{ as_of_window('as_of_date', start=start) }}
        -- here too, not only in the population: `make dataset` compiles this model alone
        and as_of_date <= cast('{{ validated_date_var("dataset_as_of") }}' as date)
),

{% for group in ['attributes', 'orders', 'sessions', 'categories', 'returns'] -%}
    {{ group }} as (
        select * from {{ ref('ml_customer_features__' ~ group) }}
        where {{ as_of_window('as_of_date', start=start) }}
    ),

{% endfor -%}
features as (
    select
        population.customer_id,
        population.as_of_date,
        attributes.segment,
        attributes.country_code,
        attributes.is_marketing_opt_in,
        attributes.tenure_days,
        orders.orders_lifetime,
        orders.days_since_last_order,
        {%- for days in windows %}
            orders.orders_{{ days }}d,
            orders.revenue_eur_{{ days }}d,
            orders.avg_order_value_eur_{{ days }}d,
            sessions.sessions_{{ days }}d,
            sessions.add_to_cart_rate_{{ days }}d,
            sessions.cart_abandonment_rate_{{ days }}d,
        {%- endfor %}
        categories.distinct_categories_{{ longest }}d,
        categories.favourite_category_{{ longest }}d,
        returns.return_rate_{{ longest }}d,
        orders.last_order_placed_at,
        sessions.last_event_at
    from population
    {%- for group in ['attributes', 'orders', 'sessions', 'categories', 'returns'] %}
    left join {{ group }}
        on
            population.customer_id = {{ group }}.customer_id
            and population.as_of_date = {{ group }}.as_of_date
    {%- endfor %}
)

{#-
    RFM scores, 1 (worst) to 5 (best), from percentile ranks among the customers alive on
    the same as-of date; equal values get equal scores. Never ordering is the worst recency.
#}

select
    {%- for column in customer_feature_columns() %}
        {{ column }},
    {%- endfor %}
    cast(1 + least(4, floor(5 * percent_rank() over (
        partition by as_of_date order by coalesce(-days_since_last_order, -2147483647)
    ))) as {{ dbt.type_int() }}) as recency_score,
    cast(1 + least(4, floor(5 * percent_rank() over (
        partition by as_of_date order by orders_{{ longest }}d
    ))) as {{ dbt.type_int() }}) as frequency_score,
    cast(1 + least(4, floor(5 * percent_rank() over (
        partition by as_of_date order by revenue_eur_{{ longest }}d
    ))) as {{ dbt.type_int() }}) as monetary_score
from features
