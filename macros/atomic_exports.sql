{#
    Exports are published whole or not at all (docs/reliability.md). dbt-duckdb's
    external materialization calls write_to_file to COPY a model to its location; this
    project's version writes to a hidden folder beside it (.<name>.writing-<invocation id>)
    and then has the plugin (warehouse/duckdb_plugin.py, Plugin.store) swap that folder
    in. A build killed while writing leaves the previous export intact under the final path
    and a hidden leftover that the next publication removes.
#}
{% macro write_to_file(relation, location, options) -%}
    {{ return(adapter.dispatch('write_to_file', 'ml_warehouse')(relation, location, options)) }}
{%- endmacro %}

{% macro duckdb__write_to_file(relation, location, options) -%}
    {%- set parts = location.rstrip('/').rsplit('/', 1) -%}
    {%- set folder = parts[0] if parts | length == 2 else '.' -%}
    {%- set name = parts[-1] -%}
    {%- set staging = folder ~ '/.' ~ name ~ '.writing-' ~ invocation_id -%}
    {% call statement('write_to_file') -%}
        copy {{ relation }} to '{{ staging }}' ({{ options }})
    {%- endcall %}
    {%- do adapter.store_relation(
        'warehouse', relation, [], staging, 'parquet', {'final_location': location}
    ) -%}
{%- endmacro %}
