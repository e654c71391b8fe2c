{#-
    Feature group: the customer's sessions in trailing windows of 7, 30 and 90 days as known
    on the as-of date D (sessions, product views, add-to-carts, cart and abandoned-cart
    sessions, summed into rates), and their last event. A session counts from the morning
    after both its first event's day and its landing day, and leaves each window when its
    day does. It reads the sessions' parts (int_events_aggregated_to_session_parts: per
    session, landing day and event day), not the events. One row per population row.

    Almost every session is one part, and what is known of it never changes once it has
    landed: its windowed totals on the as-of dates are running sums of its entries into and
    exits from the windows, which keeps the rows near the number of sessions (joining each
    session to each as-of date of its windows multiplied them by up to 90 and ran out of
    memory at scale L under 2 GiB). The rare sessions of several parts are known more fully
    as their parts land, and are joined to the as-of dates and grouped.
-#}
{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='as_of_date', on_schema_change='fail'
) }}
{%- set windows = feature_windows() %}
{%- set longest = windows | max %}
{%- set earliest_as_of_date = as_of_window_start() %}
{%- set session_total_columns = [] %}
{%- for days in windows %}
    {%- for metric in session_window_metrics() %}
        {%- do session_total_columns.append(metric ~ '_' ~ days ~ 'd') %}
    {%- endfor %}
{%- endfor %}

with

population as (
    select
        customer_id,
        as_of_date
    from {{ ref('ml_customer_population') }}
    where {{ as_of_window('as_of_date', start=earliest_as_of_date) }}
),

{#- Parts as far back as the longest window of the earliest as-of date reaches. A literal
    bound, not a subquery of the population: DuckDB estimates such a bound at a few rows of
    parts and hashes them for a join, which does not fit a 2 GiB memory limit at scale L. #}

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
{#- A one-part session is in window w from its first known as-of date through its event
    day + w: it enters the windows once and leaves each once. #}
one_part_session_spans as (
    select
        customer_id,
        event_date,
        {{ first_known_as_of_date('first_event_at', '_ingest_date') }} as known_from_date,
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

{#
    The population's rows put among the changes, so that each gets the running totals of
    the changes up to and including its as-of date. The changes before the run's first
    as-of date are one opening row per customer (the sessions known by then and still in
    each window), and those after its last are left out: a daily run sorts one day of
    changes, not {{ longest }} days of them.
#}
population_among_session_changes as (
    select
        customer_id,
        as_of_date as change_date,
        true as is_population,
        {%- for column in session_total_columns %}
            0 as {{ column }},
        {%- endfor %}
        cast(null as {{ dbt.type_timestamp() }}) as last_event_at
    from population
    union all
    select
        customer_id,
        cast('{{ days_before(earliest_as_of_date, 1) }}' as date) as change_date,
        false as is_population,
        {%- for days in windows %}
            {%- for metric in session_window_metrics() %}
                {%- set window_start = days_before(earliest_as_of_date, days + 1) %}
                sum(case when event_date >= cast('{{ window_start }}' as date) then {{ metric }} else 0 end)
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
        false as is_population,
        {%- for column in session_total_columns %}
            {{ column }},
        {%- endfor %}
        last_event_at
    from session_window_changes
    where
        change_date >= cast('{{ earliest_as_of_date }}' as date)
        and change_date <= (select max(population.as_of_date) from population)
),

{#- The default window frame takes in the rows of the same date: the day's changes count. #}

one_part_session_totals as (
    select
        customer_id,
        change_date as as_of_date,
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
            and {{ known_at(
                'population.as_of_date', 'several_part_sessions.first_event_at', 'several_part_sessions._ingest_date'
            ) }}
            and several_part_sessions.first_event_at >= {{ window_start_at(longest, 'population.as_of_date') }}
    group by population.customer_id, population.as_of_date, several_part_sessions.session_id
),

several_part_session_totals as (
    select
        customer_id,
        as_of_date,
        {%- for days in windows %}
            {%- for metric, of_one_session in session_window_metrics().items() %}
                {%- set in_window = 'session_started_at >= ' ~ window_start_at(days, 'as_of_date') %}
                sum(case when {{ in_window }} then {{ of_one_session }} else 0 end) as {{ metric }}_{{ days }}d,
            {%- endfor %}
        {%- endfor %}
        max(last_event_at) as last_event_at
    from known_several_part_sessions
    group by customer_id, as_of_date
),

session_totals as (
    select
        one_part.customer_id,
        one_part.as_of_date,
        {%- for column in session_total_columns %}
            cast(one_part.{{ column }} + coalesce(several_part.{{ column }}, 0) as {{ dbt.type_bigint() }})
                as {{ column }},
        {%- endfor %}
        case
            when
                one_part.last_known_event_at is null
                or one_part.last_known_event_at < {{ window_start_at(longest, 'one_part.as_of_date') }}
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
)

select
    customer_id,
    as_of_date,
    {%- for days in windows %}
        sessions_{{ days }}d,
        cast(1.0 * add_to_carts_{{ days }}d / nullif(product_views_{{ days }}d, 0) as decimal(9, 4))
            as add_to_cart_rate_{{ days }}d,
        cast(1.0 * abandoned_cart_sessions_{{ days }}d / nullif(cart_sessions_{{ days }}d, 0) as decimal(9, 4))
            as cart_abandonment_rate_{{ days }}d,
    {%- endfor %}
    last_event_at
from session_totals
