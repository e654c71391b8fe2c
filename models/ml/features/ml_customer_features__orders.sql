{#-
    Feature group: the customer's orders as known on the as-of date D, in trailing windows
    of 7, 30 and 90 days and over their lifetime. An order counts when it was placed before
    D and its first status record had landed before D; its value is the sum of its lines
    landed before D, in EUR at the reference rate (a line that lands later adds to the value
    from the as-of date after it landed, never before). One row per population row.

    An order's known state changes only on a few as-of dates: when it is first known, after
    each landing of its lines, and when it leaves each window. So each order is cut into
    stretches of as-of dates with one value, a customer's totals are computed once per
    stretch between two changes, and joined to the as-of dates within it, not once per
    as-of date and order (too many rows for scale L's 2 GiB: bench/RESULTS.md).
-#}
{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='as_of_date', on_schema_change='fail'
) }}
{%- set windows = feature_windows() %}
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
        first_ingest_date,
        currency_code
    from {{ ref('fct_orders') }}
),

currencies as (
    select
        currency_code,
        eur_per_unit
    from {{ ref('currencies') }}
),

line_landings as (
    select
        order_id,
        _ingest_date,
        gross_amount
    from {{ ref('int_order_items_aggregated_to_landings') }}
),

known_orders as (
    select
        order_id,
        customer_id,
        placed_at,
        currency_code,
        {{ first_known_as_of_date('placed_at', 'first_ingest_date') }} as counted_from
    from orders
),

-- what each landing of an order's lines adds to its value, from the as-of date after it
-- landed (or from the date the order is first known, for lines landed before that)
order_value_changes as (
    select
        order_id,
        counted_from as changed_on,
        0 as added_eur
    from known_orders
    union all
    select
        line_landings.order_id,
        greatest(
            cast({{ dbt.dateadd('day', 1, 'line_landings._ingest_date') }} as date), known_orders.counted_from
        ) as changed_on,
        -- rounded to the cent per landing of lines, as the labels' spend is
        cast(line_landings.gross_amount * currencies.eur_per_unit as decimal(14, 2)) as added_eur
    from line_landings
    inner join known_orders
        on line_landings.order_id = known_orders.order_id
    left join currencies
        on known_orders.currency_code = currencies.currency_code
),

order_value_steps as (
    select
        order_id,
        changed_on,
        sum(added_eur) as added_eur
    from order_value_changes
    group by order_id, changed_on
),

-- each order's value over the stretches of as-of dates between two of its changes
order_stretches as (
    select
        order_id,
        changed_on as stretch_from,
        {{ known_until_or_never('lead(changed_on) over (partition by order_id order by changed_on)') }}
            as stretch_until,
        coalesce(sum(added_eur) over (partition by order_id order by changed_on rows unbounded preceding), 0)
            as gross_amount_eur
    from order_value_steps
),

-- the stretches cut to this run's as-of dates
order_stretch_values as (
    select
        known_orders.customer_id,
        known_orders.order_id,
        known_orders.placed_at,
        greatest(order_stretches.stretch_from, cast('{{ start }}' as date)) as stretch_from,
        least(order_stretches.stretch_until, cast('{{ end_exclusive }}' as date)) as stretch_until,
        order_stretches.gross_amount_eur
    from order_stretches
    inner join known_orders
        on order_stretches.order_id = known_orders.order_id
    where
        order_stretches.stretch_until > cast('{{ start }}' as date)
        and order_stretches.stretch_from < cast('{{ end_exclusive }}' as date)
),

-- the as-of dates on which a customer's totals change: an order's stretch starts or ends,
-- or the order leaves a window
customer_changes as (
    select
        customer_id,
        stretch_from as changed_on
    from order_stretch_values
    union
    select
        customer_id,
        stretch_until as changed_on
    from order_stretch_values
    {%- for days in windows %}
        union
        select
            customer_id,
            {{ window_left_on(days, 'placed_at') }} as changed_on
        from order_stretch_values
        where
            {{ window_left_on(days, 'placed_at') }} > stretch_from
            and {{ window_left_on(days, 'placed_at') }} < stretch_until
    {%- endfor %}
),

unchanged_stretches as (
    select
        customer_id,
        changed_on as unchanged_from,
        lead(changed_on) over (partition by customer_id order by changed_on) as unchanged_until
    from customer_changes
),

order_history as (
    select
        unchanged_stretches.customer_id,
        unchanged_stretches.unchanged_from,
        unchanged_stretches.unchanged_until,
        count(*) as orders_lifetime,
        {%- for days in windows %}
            {%- set in_window = 'unchanged_stretches.unchanged_from < '
                ~ window_left_on(days, 'order_stretch_values.placed_at') %}
            cast(sum(case when {{ in_window }} then 1 else 0 end) as {{ dbt.type_bigint() }}) as orders_{{ days }}d,
            sum(case when {{ in_window }} then order_stretch_values.gross_amount_eur else 0 end)
                as revenue_eur_{{ days }}d,
        {%- endfor %}
        max(order_stretch_values.placed_at) as last_order_placed_at
    from unchanged_stretches
    inner join order_stretch_values
        on
            unchanged_stretches.customer_id = order_stretch_values.customer_id
            and unchanged_stretches.unchanged_from >= order_stretch_values.stretch_from
            and unchanged_stretches.unchanged_from < order_stretch_values.stretch_until
    group by
        unchanged_stretches.customer_id,
        unchanged_stretches.unchanged_from,
        unchanged_stretches.unchanged_until
)

select
    population.customer_id,
    population.as_of_date,
    coalesce(order_history.orders_lifetime, 0) as orders_lifetime,
    {%- set as_of_at = 'cast(population.as_of_date as ' ~ dbt.type_timestamp() ~ ')' %}
    {{ dbt.datediff('order_history.last_order_placed_at', as_of_at, 'day') }}
        as days_since_last_order,
    {%- for days in windows %}
        coalesce(order_history.orders_{{ days }}d, 0) as orders_{{ days }}d,
        cast(coalesce(order_history.revenue_eur_{{ days }}d, 0) as decimal(14, 2)) as revenue_eur_{{ days }}d,
        cast(
            order_history.revenue_eur_{{ days }}d / nullif(order_history.orders_{{ days }}d, 0)
            as decimal(14, 2)
        ) as avg_order_value_eur_{{ days }}d,
    {%- endfor %}
    order_history.last_order_placed_at
from population
left join order_history
    on
        population.customer_id = order_history.customer_id
        and population.as_of_date >= order_history.unchanged_from
        and population.as_of_date < order_history.unchanged_until
