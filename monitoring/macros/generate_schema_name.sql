{#- The warehouse is a package here, and dbt only honours a root project's schema naming. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ ml_warehouse.generate_schema_name(custom_schema_name, node) }}
{%- endmacro %}
