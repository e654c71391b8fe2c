{#
    The customer feature SQL of the training table (ml_customer_features, every as-of
    date). The serving table (ml_customer_features_latest) is that table's newest as-of
    date, which makes training-serving skew impossible by construction; a test compares
    the two on their common as-of date.

    `as_of_dates_sql` is a query returning a column `as_of_date`, for ingest dates from
    `first_ingest_date` on (an as-of date is the morning after one). For each as-of date D and
    each customer alive at D, every input is cut twice: by event time (strictly before
    00:00 of D) and by knowledge time (landed in a partition before D). Customer attributes
    are the snapshot version valid just before D.
#}
{% macro feature_windows() -%}
    {{ return([7, 30, 90]) }}
{%- endmacro %}

{# Days after the as-of date that the labels look at (ml_customer_labels). #}
{% macro label_horizon_days() -%}
    {{ return(30) }}
{%- endmacro %}

{# Start of a trailing window: `days` days before 00:00 of the as-of date. #}
{% macro window_start_at(days, as_of_date) -%}
    {{ dbt.dateadd('day', -days, 'cast(' ~ as_of_date ~ ' as ' ~ dbt.type_timestamp() ~ ')') }}
{%- endmacro %}

{% macro customer_features(as_of_dates_sql, first_ingest_date) -%}
{%- set windows = feature_windows() -%}
{%- set longest = windows | max -%}
{%- set earliest_as_of_date = dbt.dateadd('day', 1, "cast('" ~ first_ingest_date ~ "' as date)") -%}
with

as_of_dates as (
    {{ as_of_dates_sql }}
),

as_of_moments as (
    select
        as_of_date,
        cast(as_of_date as {{ dbt.type_timestamp() }}) as as_of_at,
        {%- for days in windows %}
            {{ window_start_at(days, 'as_of_date') }} as window_{{ days }}d_start_at{{ "," if not loop.last }}
        {%- endfor %}
    from as_of_dates
),

population as (
    select
        lifespans.customer_id,
        lifespans.created_at,
        as_of_moments.as_of_date,
        as_of_moments.as_of_at,
        {%- for days in windows %}
            as_of_moments.window_{{ days }}d_start_at{{ "," if not loop.last }}
        {%- endfor %}
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

known_orders as (
    select
        population.customer_id,
        population.as_of_date,
        orders.order_id,
        orders.placed_at,
        orders.gross_amount_eur,
        {%- for days in windows %}
            orders.placed_at >= population.window_{{ days }}d_start_at as is_in_{{ days }}d{{ "," if not loop.last }}
        {%- endfor %}
    from population
    inner join {{ ref('fct_orders') }} as orders
        on
            population.customer_id = orders.customer_id
            and population.as_of_at > orders.placed_at
            and population.as_of_date > orders.first_ingest_date
),

order_history as (
    select
        customer_id,
        as_of_date,
        count(*) as orders_lifetime,
        max(placed_at) as last_order_placed_at,
        {%- for days in windows %}
            cast(sum(case when is_in_{{ days }}d then 1 else 0 end) as {{ dbt.type_bigint() }}) as orders_{{ days }}d,
            sum(case when is_in_{{ days }}d then gross_amount_eur else 0 end) as revenue_eur_{{ days }}d{{ "," if not loop.last }}
        {%- endfor %}
    from known_orders
    group by customer_id, as_of_date
),

{#- Deliveries and returns as the status feed had reported them before the as-of date. #}
known_outcomes as (
    select
        population.customer_id,
        population.as_of_date,
        count(distinct case when statuses.status = 'delivered' then statuses.order_id end)
            as delivered_orders_{{ longest }}d,
        count(distinct case when statuses.status = 'returned' then statuses.order_id end)
            as returned_orders_{{ longest }}d
    from population
    inner join {{ ref('stg_shop__orders') }} as statuses
        on
            population.customer_id = statuses.customer_id
            and population.as_of_at > statuses.status_at
            and population.window_{{ longest }}d_start_at <= statuses.status_at
            and population.as_of_date > statuses._ingest_date
            and statuses.status in ('delivered', 'returned')
    group by population.customer_id, population.as_of_date
),

category_units as (
    select
        known_orders.customer_id,
        known_orders.as_of_date,
        products.category,
        sum(items.quantity) as units
    from known_orders
    inner join {{ ref('stg_shop__order_items') }} as items
        on known_orders.order_id = items.order_id
    inner join {{ ref('dim_products') }} as products
        on items.product_id = products.product_id
    where known_orders.is_in_{{ longest }}d
    group by known_orders.customer_id, known_orders.as_of_date, products.category
),

category_preferences as (
    select
        customer_id,
        as_of_date,
        count(*) as distinct_categories_{{ longest }}d,
        -- ties go to the alphabetically first category, so the choice is deterministic
        min(case when units_rank = 1 then category end) as favourite_category_{{ longest }}d
    from (
        select
            customer_id,
            as_of_date,
            category,
            rank() over (partition by customer_id, as_of_date order by units desc) as units_rank
        from category_units
    ) as ranked_categories
    group by customer_id, as_of_date
),

{#-
    Events are first summed per session, landing day and event day: every event of such a
    part is on the same side of each as-of moment (midnight) and of each window start
    (midnight), so a part is wholly in or wholly out, and joining parts instead of events
    gives the same sessions with a fraction of the rows (bench/RESULTS.md).
#}
session_parts as (
    select
        customer_id,
        session_id,
        _ingest_date,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at,
        sum(case when event_type = 'page_view' and product_id is not null then 1 else 0 end)
            as product_views,
        sum(case when event_type = 'add_to_cart' then 1 else 0 end) as add_to_carts,
        max(case when event_type = 'checkout' then 1 else 0 end) as has_checkout
    from {{ ref('stg_shop__events') }}
    where
        customer_id is not null
        -- only what the longest window of the earliest as-of date reaches: an incremental
        -- run summarises a few days of events, not the whole history. A literal, not a
        -- subquery of as_of_moments: DuckDB estimated such a bound at 84 rows of parts,
        -- hashed them for the join below and ran out of memory at scale L under 2 GiB
        and event_at >= {{ window_start_at(longest, earliest_as_of_date) }}
    group by customer_id, session_id, _ingest_date, cast(event_at as date)
),

{#-
    Almost every session is one part (one landing day, one event day), so grouping every
    (customer, as-of date, session) row of the as-of join left the rows as they were: the
    largest aggregation of the query, and the part of it that ran out of memory first at
    scale L under 2 GiB (bench/RESULTS.md). A one-part session's part is its known state;
    only sessions of several parts are grouped.
-#}
parts_per_session as (
    select
        customer_id,
        session_id,
        count(*) as parts
    from session_parts
    group by customer_id, session_id
),

{% for parts in ['one', 'several'] -%}
{{ parts }}_part_sessions as (
    select
        session_parts.customer_id,
        session_parts.session_id,
        session_parts._ingest_date,
        session_parts.first_event_at,
        session_parts.last_event_at,
        session_parts.product_views,
        session_parts.add_to_carts,
        session_parts.has_checkout
    from session_parts
    inner join parts_per_session
        on
            session_parts.customer_id = parts_per_session.customer_id
            and session_parts.session_id = parts_per_session.session_id
    where parts_per_session.parts {{ '= 1' if parts == 'one' else '> 1' }}
),

{% endfor -%}
known_sessions as (
    select
        population.customer_id,
        population.as_of_date,
        one_part_sessions.session_id,
        one_part_sessions.first_event_at as session_started_at,
        one_part_sessions.last_event_at,
        one_part_sessions.product_views,
        one_part_sessions.add_to_carts,
        one_part_sessions.has_checkout
    from population
    inner join one_part_sessions
        on
            population.customer_id = one_part_sessions.customer_id
            and population.as_of_at > one_part_sessions.first_event_at
            and population.window_{{ longest }}d_start_at <= one_part_sessions.first_event_at
            and population.as_of_date > one_part_sessions._ingest_date
    union all
    select
        population.customer_id,
        population.as_of_date,
        several_part_sessions.session_id,
        min(several_part_sessions.first_event_at) as session_started_at,
        max(several_part_sessions.last_event_at) as last_event_at,
        sum(several_part_sessions.product_views) as product_views,
        sum(several_part_sessions.add_to_carts) as add_to_carts,
        max(several_part_sessions.has_checkout) as has_checkout
    from population
    inner join several_part_sessions
        on
            population.customer_id = several_part_sessions.customer_id
            and population.as_of_at > several_part_sessions.first_event_at
            and population.window_{{ longest }}d_start_at <= several_part_sessions.first_event_at
            and population.as_of_date > several_part_sessions._ingest_date
    group by population.customer_id, population.as_of_date, several_part_sessions.session_id
),

{#-
    One aggregation per window, not one with conditional sums for all three windows: the
    wide one held sixteen states per (customer, as-of date) and could not spill within a
    2 GiB memory limit at scale L; per window it does (bench/RESULTS.md).
#}
{%- for days in windows %}
sessions_{{ days }}d as (
    select
        customer_id,
        as_of_date,
        {%- if days == longest %}
        max(last_event_at) as last_event_at,
        {%- endif %}
        count(*) as sessions,
        sum(product_views) as product_views,
        sum(add_to_carts) as add_to_carts,
        count(case when add_to_carts > 0 then 1 end) as cart_sessions,
        count(case when add_to_carts > 0 and has_checkout = 0 then 1 end) as abandoned_cart_sessions
    from known_sessions
    where
        session_started_at
        >= {{ window_start_at(days, 'as_of_date') }}
    group by customer_id, as_of_date
),

{% endfor %}
features as (
    select
        population.customer_id,
        population.as_of_date,
        attributes_as_of.segment,
        attributes_as_of.country_code,
        attributes_as_of.is_marketing_opt_in,
        {{ dbt.datediff('population.created_at', 'population.as_of_at', 'day') }}
            as tenure_days,
        coalesce(order_history.orders_lifetime, 0) as orders_lifetime,
        {{ dbt.datediff('order_history.last_order_placed_at', 'population.as_of_at', 'day') }}
            as days_since_last_order,
        {%- for days in windows %}
            coalesce(order_history.orders_{{ days }}d, 0) as orders_{{ days }}d,
            cast(coalesce(order_history.revenue_eur_{{ days }}d, 0) as decimal(14, 2)) as revenue_eur_{{ days }}d,
            cast(
                order_history.revenue_eur_{{ days }}d / nullif(order_history.orders_{{ days }}d, 0)
                as decimal(14, 2)
            ) as avg_order_value_eur_{{ days }}d,
            coalesce(sessions_{{ days }}d.sessions, 0) as sessions_{{ days }}d,
            cast(
                1.0 * sessions_{{ days }}d.add_to_carts / nullif(sessions_{{ days }}d.product_views, 0)
                as decimal(9, 4)
            ) as add_to_cart_rate_{{ days }}d,
            cast(
                1.0 * sessions_{{ days }}d.abandoned_cart_sessions
                / nullif(sessions_{{ days }}d.cart_sessions, 0)
                as decimal(9, 4)
            ) as cart_abandonment_rate_{{ days }}d,
        {%- endfor %}
        coalesce(category_preferences.distinct_categories_{{ longest }}d, 0) as distinct_categories_{{ longest }}d,
        category_preferences.favourite_category_{{ longest }}d,
        cast(
            1.0 * known_outcomes.returned_orders_{{ longest }}d
            / nullif(known_outcomes.delivered_orders_{{ longest }}d, 0)
            as decimal(9, 4)
        ) as return_rate_{{ longest }}d,
        order_history.last_order_placed_at,
        sessions_{{ longest }}d.last_event_at
    from population
    left join attributes_as_of
        on
            population.customer_id = attributes_as_of.customer_id
            and population.as_of_date = attributes_as_of.as_of_date
    left join order_history
        on
            population.customer_id = order_history.customer_id
            and population.as_of_date = order_history.as_of_date
    left join known_outcomes
        on
            population.customer_id = known_outcomes.customer_id
            and population.as_of_date = known_outcomes.as_of_date
    left join category_preferences
        on
            population.customer_id = category_preferences.customer_id
            and population.as_of_date = category_preferences.as_of_date
    {%- for days in windows %}
    left join sessions_{{ days }}d
        on
            population.customer_id = sessions_{{ days }}d.customer_id
            and population.as_of_date = sessions_{{ days }}d.as_of_date
    {%- endfor %}
)

{#-
    RFM scores, 1 (worst) to 5 (best), from percentile ranks among the customers alive on
    the same as-of date; equal values get equal scores. Never ordering is the worst recency.
#}
select
    {%- for column in customer_feature_columns() %}
        features.{{ column }},
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
{%- endmacro %}


{# Every column of a customer feature row, in order: the features, then the RFM scores. #}
{% macro scored_customer_feature_columns() -%}
    {{ return(customer_feature_columns() + ['recency_score', 'frequency_score', 'monetary_score']) }}
{%- endmacro %}

{# The columns the features CTE produces, in order; the scores are appended after them. #}
{% macro customer_feature_columns() -%}
    {%- set windows = feature_windows() -%}
    {%- set longest = windows | max -%}
    {%- set columns = [
        'customer_id', 'as_of_date', 'segment', 'country_code', 'is_marketing_opt_in',
        'tenure_days', 'orders_lifetime', 'days_since_last_order',
    ] -%}
    {%- for days in windows -%}
        {%- for name in ['orders', 'revenue_eur', 'avg_order_value_eur', 'sessions',
                         'add_to_cart_rate', 'cart_abandonment_rate'] -%}
            {%- do columns.append(name ~ '_' ~ days ~ 'd') -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- do columns.extend([
        'distinct_categories_' ~ longest ~ 'd', 'favourite_category_' ~ longest ~ 'd',
        'return_rate_' ~ longest ~ 'd', 'last_order_placed_at', 'last_event_at',
    ]) -%}
    {{ return(columns) }}
{%- endmacro %}
