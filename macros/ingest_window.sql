{#
    The slice of the lake a run reads: ingest dates between the vars min_date and max_date
    (inclusive). The vars arrive from the command line and from Dagster partitions, so they
    are checked to be plain ISO dates before they are put into SQL.
#}
{% macro validated_date_var(name) -%}
    {%- set value = var(name) | string -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value) -%}
        {{ exceptions.raise_compiler_error(
            "var '" ~ name ~ "' must be a date written YYYY-MM-DD, got '" ~ value ~ "'"
        ) }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{% macro ingest_window(column) -%}
    {{ column }} between cast('{{ validated_date_var("min_date") }}' as date)
        and cast('{{ validated_date_var("max_date") }}' as date)
{%- endmacro %}
