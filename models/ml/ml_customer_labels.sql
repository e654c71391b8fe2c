{#-
    Labels for each customer and as-of date D, over the 30 days from D:
      churned_30d: no order of theirs was delivered in [D, D + 30 days);
      spend_next_30d_eur: value of the orders they placed in that window.
    A label exists only once its window has fully passed and landed (the knowledge date,
    the morning after the newest landed day, or var dataset_as_of, is at least D + 30), and
    it uses only records landed before D + 30, so it never changes afterwards: the table is
    incremental, and a run adds the as-of dates whose window has closed since the last one
    instead of recomputing every label of the history.
-#}
{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='as_of_date', on_schema_change='fail'
) }}
{%- set horizon_days = label_horizon_days() %}
{%- set labelled_through -%}
    {%- if is_incremental() -%}
        (select coalesce(max(labelled.as_of_date), cast('1900-01-01' as date)) from {{ this }} as labelled)
    {%- else -%}
        cast('1900-01-01' as date)
    {%- endif -%}
{%- endset %}

with

knowledge as (
    select
        least(
            cast({{ dbt.dateadd('day', 1, 'max(_ingest_date)') }} as date),
            cast('{{ validated_date_var("dataset_as_of") }}' as date)
        ) as knowledge_date
    from {{ ref('stg_shop__orders') }}
),

labelled_dates as (
    select
        features.customer_id,
        features.as_of_date,
        cast(features.as_of_date as {{ dbt.type_timestamp() }}) as window_start_at,
        cast({{ dbt.dateadd('day', horizon_days, 'features.as_of_date') }} as {{ dbt.type_timestamp() }})
            as window_end_at,
        cast({{ dbt.dateadd('day', horizon_days, 'features.as_of_date') }} as date) as window_end_date
    from {{ ref('ml_customer_features', v=1) }} as features
    cross join knowledge
    where
        {{ dbt.dateadd('day', horizon_days, 'features.as_of_date') }} <= knowledge.knowledge_date
        -- a label never changes once its window has landed: only dates not labelled yet
        and features.as_of_date > {{ labelled_through }}
),

deliveries as (
    select
        labelled_dates.customer_id,
        labelled_dates.as_of_date,
        count(distinct statuses.order_id) as delivered_orders
    from labelled_dates
    inner join {{ ref('stg_shop__orders') }} as statuses
        on
            labelled_dates.customer_id = statuses.customer_id
            and statuses.status = 'delivered'
            and labelled_dates.window_start_at <= statuses.status_at
            and labelled_dates.window_end_at > statuses.status_at
            and labelled_dates.window_end_date > statuses._ingest_date
    group by labelled_dates.customer_id, labelled_dates.as_of_date
),

spend as (
    select
        labelled_dates.customer_id,
        labelled_dates.as_of_date,
        sum(orders.gross_amount_eur) as spend_eur
    from labelled_dates
    inner join {{ ref('fct_orders') }} as orders
        on
            labelled_dates.customer_id = orders.customer_id
            and labelled_dates.window_start_at <= orders.placed_at
            and labelled_dates.window_end_at > orders.placed_at
            and labelled_dates.window_end_date > orders.first_ingest_date
    group by labelled_dates.customer_id, labelled_dates.as_of_date
)

select
    labelled_dates.customer_id,
    labelled_dates.as_of_date,
    coalesce(deliveries.delivered_orders, 0) = 0 as churned_30d,
    cast(coalesce(spend.spend_eur, 0) as decimal(14, 2)) as spend_next_30d_eur
from labelled_dates
left join deliveries
    on
        labelled_dates.customer_id = deliveries.customer_id
        and labelled_dates.as_of_date = deliveries.as_of_date
left join spend
    on
        labelled_dates.customer_id = spend.customer_id
        and labelled_dates.as_of_date = spend.as_of_date
