{#
    The point-in-time cut every ML input takes. A record is known at as-of date D when it
    was true in the business before D (its valid time is strictly before 00:00 of D) and had
    landed before D (its knowledge time, the ingest date of its partition, is before D).
    Both, because either alone leaks: a late record describes the past but was not known
    then, and a record landed early can describe the future (a scheduled change).

    known_at(as_of_date, valid_at, landed_on): that condition, for joins and filters.
    first_known_as_of_date(valid_at, landed_on): the first as-of date at which the record
        is known, the same condition solved for D (D > both days), for the history models
        that precompute what was known from one as-of date to the next.
    `as_of_date` and `landed_on` are date expressions, `valid_at` a timestamp expression.
#}
{% macro known_at(as_of_date, valid_at, landed_on) -%}
    ({{ valid_at }} < cast({{ as_of_date }} as {{ dbt.type_timestamp() }}) and {{ landed_on }} < {{ as_of_date }})
{%- endmacro %}

{#
    known_until_or_never(column): a history model's known_until_as_of_date with its open end
    (null: still the version known today) as a far-future date, so a range join on it stays
    a hash join on the key (see open_validity_end, macros/as_of.sql).
#}
{% macro known_until_or_never(column) -%}
    coalesce({{ column }}, cast('9999-12-31' as date))
{%- endmacro %}

{% macro first_known_as_of_date(valid_at, landed_on) -%}
    cast({{ dbt.dateadd('day', 1, 'greatest(cast(' ~ valid_at ~ ' as date), ' ~ landed_on ~ ')') }} as date)
{%- endmacro %}

{#
    The as-of dates an incremental ML model (re)computes in this run: the mornings after the
    ingest dates of its window (macros/ingest_window.sql), as an inclusive range.
    as_of_window_start() and as_of_window_end() are the first and the last of them, as ISO
    dates for literal bounds.
#}
{% macro as_of_window_start() -%}
    {{ return(days_before(incremental_window_start(date_column='as_of_date'), -1)) }}
{%- endmacro %}

{% macro as_of_window_end() -%}
    {{ return(days_before(window_date('max_date'), -1)) }}
{%- endmacro %}

{% macro as_of_window(column, start=none) -%}
    {%- set start = start if start is not none else as_of_window_start() -%}
    {{ column }} between cast('{{ start }}' as date)
        and cast('{{ as_of_window_end() }}' as date)
{%- endmacro %}
