{#
    Each layer gets its own schema, named exactly as configured (staging, marts, ml, ...).
    dbt's default prefixes the target schema ("main_staging"); every environment here has
    its own DuckDB file, so the prefix would only add noise to analysts' queries.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
