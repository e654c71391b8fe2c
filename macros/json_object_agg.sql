{#
    A JSON object {"key": value, ...} aggregated over rows, keys in order, from dbt's
    cross-database listagg (for the small summaries in ml_dataset_versions).
#}
{% macro json_object_agg(key_column, value_expression) -%}
    '{' || {{ dbt.listagg(
        "'\"' || " ~ key_column ~ " || '\": ' || cast(" ~ value_expression ~ " as " ~ dbt.type_string() ~ ")",
        "', '",
        "order by " ~ key_column,
    ) }} || '}'
{%- endmacro %}
