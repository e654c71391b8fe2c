{#
    dbt's safe_cast falls back to a plain cast on adapters without their own version, and
    dbt-duckdb has none, so a value that does not parse would fail the whole build instead
    of being quarantined. DuckDB's try_cast returns null, which the base_ models then
    route to the quarantine as unparseable_value. dbt looks for duckdb__safe_cast in the
    root project first, so this replaces the fallback for every dbt.safe_cast call.
#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}
