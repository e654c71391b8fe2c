{#-
    One row per customer and as-of date. An as-of date D is the morning after a landed day:
    every feature uses only orders and events strictly before D, and the customer's
    attributes as the snapshot recorded them at D. Attributes are null where the snapshot
    history does not reach back to D (before the first snapshot run), rather than borrowing
    a later version.
-#}
{#- The window is part of the column names (orders_30d), so it is fixed here, not a var. -#}
{%- set window_days = 30 %}

with

as_of_dates as (
    select distinct cast({{ dbt.dateadd('day', 1, '_ingest_date') }} as date) as as_of_date
    from {{ ref('stg_shop__orders') }}
),

as_of_moments as (
    select
        as_of_date,
        cast(as_of_date as {{ dbt.type_timestamp() }}) as as_of_at,
        {{ dbt.dateadd('day', -window_days, 'cast(as_of_date as ' ~ dbt.type_timestamp() ~ ')') }}
            as window_start_at
    from as_of_dates
),

population as (
    select
        lifespans.customer_id,
        lifespans.created_at,
        as_of_moments.as_of_date,
        as_of_moments.as_of_at,
        as_of_moments.window_start_at
    from {{ ref('int_customers_lifespans') }} as lifespans
    inner join as_of_moments
        on lifespans.created_at < as_of_moments.as_of_at
    where lifespans.deleted_at is null or lifespans.deleted_at >= as_of_moments.as_of_at
),

attributes_as_of as (
    select
        population.customer_id,
        population.as_of_date,
        versions.segment,
        versions.country_code,
        versions.is_marketing_opt_in
    from population
    inner join {{ ref('snap_customers') }} as versions
        on
            population.customer_id = versions.customer_id
            and population.as_of_at > versions.dbt_valid_from
            and (versions.dbt_valid_to is null or population.as_of_at <= versions.dbt_valid_to)
),

order_history as (
    select
        population.customer_id,
        population.as_of_date,
        count(orders.order_id) as orders_lifetime,
        sum(case when orders.placed_at >= population.window_start_at then 1 else 0 end) as orders_window,
        sum(
            case when orders.placed_at >= population.window_start_at then orders.gross_amount_eur else 0 end
        ) as revenue_eur_window,
        max(orders.placed_at) as last_order_placed_at
    from population
    inner join {{ ref('fct_orders') }} as orders
        on
            population.customer_id = orders.customer_id
            and population.as_of_at > orders.placed_at
    group by population.customer_id, population.as_of_date
),

event_history as (
    select
        population.customer_id,
        population.as_of_date,
        count(*) as events_window,
        count(distinct events.session_id) as sessions_window,
        sum(case when events.event_type = 'add_to_cart' then 1 else 0 end) as add_to_cart_events_window,
        max(events.event_at) as last_event_at
    from population
    inner join {{ ref('stg_shop__events') }} as events
        on
            population.customer_id = events.customer_id
            and population.as_of_at > events.event_at
            and population.window_start_at <= events.event_at
    group by population.customer_id, population.as_of_date
)

select
    population.customer_id,
    population.as_of_date,
    attributes_as_of.segment,
    attributes_as_of.country_code,
    attributes_as_of.is_marketing_opt_in,
    {{ dbt.datediff('population.created_at', 'population.as_of_at', 'day') }}
        as tenure_days,
    coalesce(order_history.orders_lifetime, 0) as orders_lifetime,
    coalesce(order_history.orders_window, 0) as orders_{{ window_days }}d,
    cast(coalesce(order_history.revenue_eur_window, 0) as decimal(14, 2)) as revenue_eur_{{ window_days }}d,
    cast(
        case
            when order_history.orders_window > 0
                then order_history.revenue_eur_window / order_history.orders_window
        end as decimal(14, 2)
    ) as avg_order_value_eur_{{ window_days }}d,
    {{ dbt.datediff('order_history.last_order_placed_at', 'population.as_of_at', 'day') }}
        as days_since_last_order,
    coalesce(event_history.sessions_window, 0) as sessions_{{ window_days }}d,
    coalesce(event_history.events_window, 0) as events_{{ window_days }}d,
    coalesce(event_history.add_to_cart_events_window, 0) as add_to_cart_events_{{ window_days }}d,
    order_history.last_order_placed_at,
    event_history.last_event_at
from population
left join attributes_as_of
    on
        population.customer_id = attributes_as_of.customer_id
        and population.as_of_date = attributes_as_of.as_of_date
left join order_history
    on
        population.customer_id = order_history.customer_id
        and population.as_of_date = order_history.as_of_date
left join event_history
    on
        population.customer_id = event_history.customer_id
        and population.as_of_date = event_history.as_of_date
