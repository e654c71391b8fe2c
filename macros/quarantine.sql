{#
    Row validation shared by the base_ models. `rules` is a list of (rule_name, condition)
    pairs; a row gets the name of the first rule whose condition is true, or null when it
    passes them all. The order of the list is the order of precedence.
#}
{% macro first_failed_rule(rules) -%}
    case
    {%- for rule_name, condition in rules %}
        when {{ condition }} then '{{ rule_name }}'
    {%- endfor %}
    end
{%- endmacro %}

{#
    Rule oversized_record: the row's raw values, as JSON text, are longer than var
    max_record_chars (an enormous string value). DuckDB reads such a value, so the file is
    readable; the row is quarantined rather than carried into features and exports.
#}
{% macro oversized_record(raw_record_column) -%}
    length({{ raw_record_column }}) > {{ validated_integer_var('max_record_chars', 1000, 100000000) }}
{%- endmacro %}

{#
    The raw row as JSON text, so the quarantine keeps every landed value, whatever the
    source's columns, in one column.
#}
{% macro record_to_json(table_alias) -%}
    {{ return(adapter.dispatch('record_to_json', 'ml_warehouse')(table_alias)) }}
{%- endmacro %}

{% macro duckdb__record_to_json(table_alias) -%}
    cast(to_json({{ table_alias }}) as varchar)
{%- endmacro %}

{% macro default__record_to_json(table_alias) -%}
    {{ exceptions.raise_compiler_error(
        "record_to_json has no implementation for adapter '" ~ adapter.type() ~ "': add "
        ~ adapter.type() ~ "__record_to_json in macros/quarantine.sql (e.g. to_json(struct(*)) on Spark)."
    ) }}
{%- endmacro %}
