{#
    Fails when the newest value of `field` is older than `interval` `datepart`s before
    `relative_to` (default: now). Historical or replayed data can pass a SQL expression,
    such as the newest ingest date, as `relative_to`. An empty table fails too.
#}
{% test recency(model, field, datepart, interval, relative_to=none) %}
{%- set reference = relative_to if relative_to is not none else dbt.current_timestamp() %}
with newest as (
    select max({{ field }}) as newest_value from {{ model }}
)

select newest_value
from newest
where
    newest_value is null
    or cast(newest_value as {{ dbt.type_timestamp() }})
    < cast({{ dbt.dateadd(datepart, -1 * interval, reference) }} as {{ dbt.type_timestamp() }})
{% endtest %}
