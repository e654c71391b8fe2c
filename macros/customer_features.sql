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
{#- the day after first_ingest_date #}
{%- set earliest_as_of_date = days_before(first_ingest_date, -1) -%}
{%- set session_total_columns = [] -%}
{%- for days in windows -%}
    {%- for metric in session_window_metrics() -%}
        {%- do session_total_columns.append(metric ~ '_' ~ days ~ 'd') -%}
    {%- endfor -%}
{%- endfor -%}
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

{#- Sessions' parts (int_events_aggregated_to_session_parts), as far back as the longest
    window of the earliest as-of date reaches: an incremental run reads a few days of parts,
    not the whole history. A literal bound, not a subquery of as_of_moments: DuckDB
    estimated such a bound at 84 rows of parts, hashed them for a join and ran out of
    memory at scale L under 2 GiB (bench/RESULTS.md). #}
session_parts as (
    select
        customer_id,
        session_id,
        _ingest_date,
        event_date,
        first_event_at,
        last_event_at,
        product_views,
        add_to_carts,
        has_checkout
    from {{ ref('int_events_aggregated_to_session_parts') }}
    where event_date >= cast('{{ days_before(earliest_as_of_date, longest) }}' as date)
),

{#
    Almost every session is one part (one landing day, one event day), and what is known
    of it never changes once it has landed. A session of several parts is known more
    fully as its parts land; those are rare, and are joined to the as-of dates and grouped
    (known_several_part_sessions).
#}
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
        session_parts.event_date,
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
{#-
    A one-part session is in window w of the as-of dates from the day after both its event
    day and its landing day, through its event day + w: it enters the windows once and
    leaves each once. So a customer's windowed totals on an as-of date are a running sum
    of those entries and exits, and the last event is the running maximum, kept while it
    is inside the longest window (a session outside it has an earlier last event than any
    inside). The rows stay near the number of sessions: joining each session to each
    as-of date of its windows multiplied them by up to {{ longest }}, and ran out of
    memory at scale L under 2 GiB (bench/RESULTS.md).
#}
one_part_session_spans as (
    select
        customer_id,
        event_date,
        cast({{ dbt.dateadd('day', 1, 'greatest(event_date, _ingest_date)') }} as date) as known_from_date,
        {%- for metric, of_one_session in session_window_metrics().items() %}
        {{ of_one_session }}{{ ' as ' ~ metric if of_one_session != metric }},
        {%- endfor %}
        last_event_at
    from one_part_sessions
),

{#- One row per change: a session entering its windows, or leaving one of them. #}
session_window_changes as (
    select
        customer_id,
        known_from_date as change_date,
        {%- for days in windows %}
            {%- set enters = "known_from_date <= cast(" ~ dbt.dateadd('day', days, 'event_date') ~ " as date)" %}
            {%- for metric in session_window_metrics() %}
        case when {{ enters }} then {{ metric }} else 0 end as {{ metric }}_{{ days }}d,
            {%- endfor %}
        {%- endfor %}
        last_event_at
    from one_part_session_spans
    {%- for leaving in windows %}
    union all
    select
        customer_id,
        cast({{ dbt.dateadd('day', leaving + 1, 'event_date') }} as date) as change_date,
        {%- for days in windows %}
            {%- for metric in session_window_metrics() %}
        {{ '-' ~ metric if days == leaving else '0' }} as {{ metric }}_{{ days }}d,
            {%- endfor %}
        {%- endfor %}
        cast(null as {{ dbt.type_timestamp() }}) as last_event_at
    from one_part_session_spans
    where known_from_date <= cast({{ dbt.dateadd('day', leaving, 'event_date') }} as date)
    {%- endfor %}
),

{#-
    The population's rows put among the changes, so that each gets the running totals of
    the changes up to and including its as-of date. An incremental run's as-of dates are a
    few days at the end of the history, so the changes before its first as-of date are one
    opening row per customer, the state on the day before (the sessions known by then and
    still inside each window), and the changes after its last as-of date are left out:
    otherwise its one as-of date would sort the entries and exits of {{ longest }} days of
    sessions.
-#}
population_among_session_changes as (
    select
        customer_id,
        as_of_date as change_date,
        created_at,
        as_of_at,
        window_{{ longest }}d_start_at,
        true as is_population,
        {%- for column in session_total_columns %}
        0 as {{ column }},
        {%- endfor %}
        cast(null as {{ dbt.type_timestamp() }}) as last_event_at
    from population
    union all
    select
        customer_id,
        cast('{{ first_ingest_date }}' as date) as change_date,
        cast(null as {{ dbt.type_timestamp() }}) as created_at,
        cast(null as {{ dbt.type_timestamp() }}) as as_of_at,
        cast(null as {{ dbt.type_timestamp() }}) as window_{{ longest }}d_start_at,
        false as is_population,
        {%- for days in windows %}
            {%- for metric in session_window_metrics() %}
        sum(case when event_date >= cast('{{ days_before(first_ingest_date, days) }}' as date) then {{ metric }} else 0 end)
            as {{ metric }}_{{ days }}d,
            {%- endfor %}
        {%- endfor %}
        max(last_event_at) as last_event_at
    from one_part_session_spans
    where known_from_date < cast('{{ earliest_as_of_date }}' as date)
    group by customer_id
    union all
    select
        customer_id,
        change_date,
        cast(null as {{ dbt.type_timestamp() }}) as created_at,
        cast(null as {{ dbt.type_timestamp() }}) as as_of_at,
        cast(null as {{ dbt.type_timestamp() }}) as window_{{ longest }}d_start_at,
        false as is_population,
        {%- for column in session_total_columns %}
        {{ column }},
        {%- endfor %}
        last_event_at
    from session_window_changes
    where
        change_date >= cast('{{ earliest_as_of_date }}' as date)
        and change_date <= (select max(as_of_date) from as_of_dates)
),

{#- The default window frame takes in the rows of the same date: the day's changes count. #}
one_part_session_totals as (
    select
        customer_id,
        change_date as as_of_date,
        created_at,
        as_of_at,
        window_{{ longest }}d_start_at,
        is_population,
        {%- for column in session_total_columns %}
        sum({{ column }}) over (partition by customer_id order by change_date) as {{ column }},
        {%- endfor %}
        max(last_event_at) over (partition by customer_id order by change_date) as last_known_event_at
    from population_among_session_changes
),

known_several_part_sessions as (
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

several_part_session_totals as (
    select
        customer_id,
        as_of_date,
        {%- for days in windows %}
            {%- for metric, of_one_session in session_window_metrics().items() %}
        sum(case when session_started_at >= {{ window_start_at(days, 'as_of_date') }} then {{ of_one_session }} else 0 end)
            as {{ metric }}_{{ days }}d,
            {%- endfor %}
        {%- endfor %}
        max(last_event_at) as last_event_at
    from known_several_part_sessions
    group by customer_id, as_of_date
),

{#- The population's rows, each with its session totals. #}
population_with_session_totals as (
    select
        one_part.customer_id,
        one_part.as_of_date,
        one_part.created_at,
        one_part.as_of_at,
        {%- for column in session_total_columns %}
        cast(one_part.{{ column }} + coalesce(several_part.{{ column }}, 0) as {{ dbt.type_bigint() }}) as {{ column }},
        {%- endfor %}
        case
            when
                one_part.last_known_event_at is null
                or one_part.last_known_event_at < one_part.window_{{ longest }}d_start_at
                then several_part.last_event_at
            when several_part.last_event_at > one_part.last_known_event_at then several_part.last_event_at
            else one_part.last_known_event_at
        end as last_event_at
    from one_part_session_totals as one_part
    left join several_part_session_totals as several_part
        on
            one_part.customer_id = several_part.customer_id
            and one_part.as_of_date = several_part.as_of_date
    where one_part.is_population
),

{#-
    Starts from the population with its session totals, and joins the attribute versions
    directly, rather than joining either to the population: each has one row per population
    row, and the side of a hash join held in memory must fit together with those of the
    other joins here. With them, the query ran out of memory at scale L under 2 GiB where
    each of its parts alone did not (bench/RESULTS.md).
-#}
features as (
    select
        population.customer_id,
        population.as_of_date,
        attributes.segment,
        attributes.country_code,
        attributes.is_marketing_opt_in,
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
            population.sessions_{{ days }}d,
            cast(
                1.0 * population.add_to_carts_{{ days }}d
                / nullif(population.product_views_{{ days }}d, 0)
                as decimal(9, 4)
            ) as add_to_cart_rate_{{ days }}d,
            cast(
                1.0 * population.abandoned_cart_sessions_{{ days }}d
                / nullif(population.cart_sessions_{{ days }}d, 0)
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
        population.last_event_at
    from population_with_session_totals as population
    left join {{ ref('dim_customers_history') }} as attributes
        on
            population.customer_id = attributes.customer_id
            and {{ valid_at('population.as_of_at', 'attributes', strictly_before=true) }}
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


{#
    What is summed over the sessions of each window, per customer and as-of date: each
    metric's value for one session, from its product_views, add_to_carts and has_checkout.
#}
{% macro session_window_metrics() -%}
    {{ return({
        'sessions': '1',
        'product_views': 'product_views',
        'add_to_carts': 'add_to_carts',
        'cart_sessions': 'case when add_to_carts > 0 then 1 else 0 end',
        'abandoned_cart_sessions': 'case when add_to_carts > 0 and has_checkout = 0 then 1 else 0 end',
    }) }}
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
