{#
    Time travel over dbt snapshots. A snapshot version is valid from dbt_valid_from
    (inclusive) to dbt_valid_to (exclusive, null while current).

    valid_at(at, alias): the join/filter condition "this version was the state at `at`".
        With strictly_before=true it is the state as known just before `at`, for ML
        features that may only use what happened strictly before their as-of moment.
    as_of(relation, at): the relation's rows as they were at `at`, e.g.
        select * from {{ as_of(ref('snap_customers'), "timestamp '2026-01-15 00:00:00'") }}
    `at` is a SQL expression (a column or a literal), not a Python value.

    The open end is written as a far-future timestamp (coalesce), not `dbt_valid_to is null
    or ...`: with an `or` in its condition a left join cannot be a hash join on the key, and
    DuckDB falls back to a nested loop, whose cost grows with the product of the two sides.
#}
{% macro open_validity_end() -%}
    cast('9999-12-31 00:00:00' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro valid_at(at, alias=none, strictly_before=false) -%}
    {%- set prefix = alias ~ '.' if alias else '' -%}
    {%- if strictly_before -%}
        {{ prefix }}dbt_valid_from < {{ at }}
        and coalesce({{ prefix }}dbt_valid_to, {{ open_validity_end() }}) >= {{ at }}
    {%- else -%}
        {{ prefix }}dbt_valid_from <= {{ at }}
        and coalesce({{ prefix }}dbt_valid_to, {{ open_validity_end() }}) > {{ at }}
    {%- endif -%}
{%- endmacro %}

{% macro as_of(relation, at) -%}
    (
        select *
        from {{ relation }} as versions
        where {{ valid_at(at, 'versions') }}
    )
{%- endmacro %}
