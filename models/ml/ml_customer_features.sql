{#-
    One row per customer and as-of date. An as-of date D is the morning after a landed day.
    Every input is cut twice at D: by event time (orders placed, events that happened
    strictly before D) and by knowledge time (rows that had landed before D, so a late event
    or a late file never changes a past row). Attributes are the snapshot version valid just
    before D, null where the snapshot history does not reach back that far. A row for D is
    therefore what serving would have computed on D, and rebuilding any past as-of date from
    history gives the same bits (see docs/versioning.md).
    var dataset_as_of (YYYY-MM-DD) caps the as-of dates, to rebuild a registered version.
-#}
{#- The window is part of the column names (orders_30d), so it is fixed here, not a var. -#}
{%- set window_days = 30 %}

with

landed_days as (
    select distinct _ingest_date
    from {{ ref('stg_shop__orders') }}
),

as_of_dates as (
    select cast({{ dbt.dateadd('day', 1, '_ingest_date') }} as date) as as_of_date
    from landed_days
    where _ingest_date < cast('{{ validated_date_var("dataset_as_of") }}' as date)
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
        on
            lifespans.created_at < as_of_moments.as_of_at
            and lifespans.first_ingest_date < as_of_moments.as_of_date
    where
        -- gone only once both the deletion happened and its record had landed
        lifespans.deleted_at is null
        or lifespans.deleted_at >= as_of_moments.as_of_at
        or lifespans.deletion_ingest_date >= as_of_moments.as_of_date
),

attributes_as_of as (
    select
        population.customer_id,
        population.as_of_date,
        versions.segment,
        versions.country_code,
        versions.is_marketing_opt_in
    from population
    inner join {{ ref('dim_customers_history') }} as versions
        on
            population.customer_id = versions.customer_id
            and {{ valid_at('population.as_of_at', 'versions', strictly_before=true) }}
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
            and population.as_of_date > orders.first_ingest_date
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
            and population.as_of_date > events._ingest_date
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
