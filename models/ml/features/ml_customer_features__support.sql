{#-
    Feature group: the customer's helpdesk tickets (support.tickets), as the helpdesk had
    reported them before the as-of date: a ticket version counts when it was written
    before D and landed before D, and a ticket belongs to the customer when it came from an
    address the customer's records had given before D. Each ticket is read in its latest
    version known on D. One row per population row.
-#}
{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='as_of_date', on_schema_change='fail'
) }}
{%- set windows = feature_windows() %}
{%- set longest = windows | max %}

with

population as (
    select
        customer_id,
        as_of_date
    from {{ ref('ml_customer_population') }}
    where {{ as_of_window('as_of_date') }}
),

customer_addresses as (
    select
        customer_id,
        email_pseudonym,
        first_landed_on
    from {{ ref('int_customer_email_pseudonyms_landed') }}
),

ticket_versions as (
    select
        ticket_id,
        customer_email_pseudonym,
        created_at,
        first_response_at,
        resolved_at,
        satisfaction_score,
        status,
        updated_at,
        _ingest_date
    from {{ ref('stg_support__tickets') }}
),

known_ticket_versions as (
    select
        population.customer_id,
        population.as_of_date,
        ticket_versions.ticket_id,
        ticket_versions.created_at,
        ticket_versions.first_response_at,
        ticket_versions.resolved_at,
        ticket_versions.satisfaction_score,
        ticket_versions.status,
        row_number() over (
            partition by population.customer_id, population.as_of_date, ticket_versions.ticket_id
            order by ticket_versions.updated_at desc, ticket_versions._ingest_date desc
        ) as version_recency
    from population
    inner join customer_addresses
        on
            population.customer_id = customer_addresses.customer_id
            and population.as_of_date > customer_addresses.first_landed_on
    inner join ticket_versions
        on
            customer_addresses.email_pseudonym = ticket_versions.customer_email_pseudonym
            and {{ known_at('population.as_of_date', 'ticket_versions.updated_at', 'ticket_versions._ingest_date') }}
),

known_tickets as (
    select
        customer_id,
        as_of_date,
        ticket_id,
        created_at,
        first_response_at,
        resolved_at,
        satisfaction_score,
        status,
        {{ dbt.datediff('created_at', 'first_response_at', 'minute') }}
        / 60.0 as first_response_hours,
        -- the most recently resolved ticket that the customer rated first
        row_number() over (
            partition by customer_id, as_of_date
            order by
                case when status = 'resolved' and satisfaction_score is not null then 0 else 1 end,
                resolved_at desc,
                ticket_id desc
        ) as rating_recency
    from known_ticket_versions
    where version_recency = 1
),

ticket_counts as (
    select
        customer_id,
        as_of_date,
        {%- for days in windows %}
            count(distinct case
                when created_at >= {{ window_start_at(days, 'as_of_date') }} then ticket_id
            end) as tickets_{{ days }}d,
        {%- endfor %}
        count(distinct case when status <> 'resolved' then ticket_id end) as unresolved_tickets,
        percentile_cont(0.5) within group (
            order by case
                when created_at >= {{ window_start_at(longest, 'as_of_date') }} then first_response_hours
            end
        ) as median_first_response_hours_{{ longest }}d,
        max(case
            when rating_recency = 1 and status = 'resolved' then satisfaction_score
        end) as last_satisfaction_score
    from known_tickets
    group by customer_id, as_of_date
)

select
    population.customer_id,
    population.as_of_date,
    {%- for days in windows %}
        coalesce(ticket_counts.tickets_{{ days }}d, 0) as tickets_{{ days }}d,
    {%- endfor %}
    coalesce(ticket_counts.unresolved_tickets, 0) as unresolved_tickets,
    cast(ticket_counts.median_first_response_hours_{{ longest }}d as decimal(9, 2))
        as median_first_response_hours_{{ longest }}d,
    cast(ticket_counts.last_satisfaction_score as integer) as last_satisfaction_score
from population
left join ticket_counts
    on
        population.customer_id = ticket_counts.customer_id
        and population.as_of_date = ticket_counts.as_of_date
