{#-
    Labels for each customer alive on as-of date D (the rows of ml_customer_features v1),
    over the window [D, D + 30 days), as known when it closed: from the records landed
    before D + 30 only.
      churned_30d: no order of theirs has a `delivered` record with status_at in the
        window. A delivered order later returned was still delivered; a delivery after
        the customer's deletion still counts.
      spend_next_30d_eur: the value in EUR of the orders they placed in the window (known:
        a status record landed), from their lines landed before D + 30 at the order
        currency's rate (ref('currencies')), rounded to the cent per order as fct_orders
        does; less the orders whose cancellation is known (status_at in the window). A
        returned order still counts: the return is a separate event.
    A label exists only once its window has fully passed and landed: the knowledge date,
    the newest as-of date of the features (the morning after the newest day loaded; every
    landed day opens one, so a day whose order rows were all quarantined counts), or var
    dataset_as_of if earlier, is at least D + 30. Not the lake's newest day: a day landed
    but not yet loaded (a partition Dagster has not run) would close windows over data
    the warehouse does not hold yet. As it uses only records landed before D + 30, it never changes afterwards:
    the table is incremental, and a run adds the as-of dates whose window has closed since
    the last one instead of recomputing every label of the history.
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
    -- what the warehouse has built: every landed day (int_days_landed) opens an as-of date
    -- of the features once its data is loaded, so the newest one is the morning after the
    -- newest day loaded, even a day whose order rows were all quarantined
    select
        least(
            coalesce(max(as_of_date), cast('1900-01-01' as date)),
            cast('{{ validated_date_var("dataset_as_of") }}' as date)
        ) as knowledge_date
    from {{ ref('ml_customer_features', v=1) }}
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

-- where the earliest new window starts: older records cannot fall in any of them
first_window as (
    select min(window_start_at) as window_start_at
    from labelled_dates
),

delivery_records as (
    select
        order_id,
        customer_id,
        status_at,
        _ingest_date
    from {{ ref('stg_shop__orders') }}
    where
        status = 'delivered'
        and status_at >= (select first_window.window_start_at from first_window)
),

-- one row per order placed in a new window: placed_at, customer and currency are repeated
-- on every status record of the order
windowed_orders as (
    select
        order_id,
        max(customer_id) as customer_id,
        min(placed_at) as placed_at,
        max(currency_code) as currency_code,
        min(_ingest_date) as first_ingest_date,
        max(case when status = 'cancelled' then status_at end) as cancelled_at,
        max(case when status = 'cancelled' then _ingest_date end) as cancellation_ingest_date
    from {{ ref('stg_shop__orders') }}
    where placed_at >= (select first_window.window_start_at from first_window)
    group by order_id
),

-- each order's value in EUR per landing day of its lines (nearly always one), known from
-- the later of that day and the order's first status record
order_value_landings as (
    select
        windowed_orders.customer_id,
        windowed_orders.placed_at,
        windowed_orders.cancelled_at,
        windowed_orders.cancellation_ingest_date,
        greatest(windowed_orders.first_ingest_date, line_landings._ingest_date) as known_from_date,
        cast(line_landings.gross_amount * currencies.eur_per_unit as decimal(14, 2)) as amount_eur
    from windowed_orders
    inner join {{ ref('int_order_items_aggregated_to_landings') }} as line_landings
        on windowed_orders.order_id = line_landings.order_id
    inner join {{ ref('currencies') }} as currencies
        on windowed_orders.currency_code = currencies.currency_code
),

deliveries as (
    select
        labelled_dates.customer_id,
        labelled_dates.as_of_date,
        count(distinct delivery_records.order_id) as delivered_orders
    from labelled_dates
    inner join delivery_records
        on
            labelled_dates.customer_id = delivery_records.customer_id
            and labelled_dates.window_start_at <= delivery_records.status_at
            and labelled_dates.window_end_at > delivery_records.status_at
            and labelled_dates.window_end_date > delivery_records._ingest_date
    group by labelled_dates.customer_id, labelled_dates.as_of_date
),

spend as (
    select
        labelled_dates.customer_id,
        labelled_dates.as_of_date,
        sum(order_value_landings.amount_eur) as spend_eur
    from labelled_dates
    inner join order_value_landings
        on
            labelled_dates.customer_id = order_value_landings.customer_id
            and labelled_dates.window_start_at <= order_value_landings.placed_at
            and labelled_dates.window_end_at > order_value_landings.placed_at
            and labelled_dates.window_end_date > order_value_landings.known_from_date
            -- a cancelled order is not spend, once its cancellation is known
            and (
                order_value_landings.cancelled_at is null
                or labelled_dates.window_end_at <= order_value_landings.cancelled_at
                or labelled_dates.window_end_date <= order_value_landings.cancellation_ingest_date
            )
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
