{#
    A content fingerprint of a table, the same value warehouse/fingerprint.py computes from
    Python, so a fingerprint recorded at publication can be checked from dbt and the other
    way round. The query is rendered there, the one place it is defined: this macro
    describes the relation and asks DuckDB's function dataset_fingerprint_query for the
    text, which the project's dbt-duckdb plugin (warehouse/duckdb_plugin.py, loaded by the
    dev and ci targets of profiles/profiles.yml) registers with warehouse.fingerprint as
    its body. Which columns are taken, and what is refused, is decided there too.

    Returns a query (no parentheses) that yields one varchar, "<row count>:<32 hex digits>":
        select ({{ dataset_fingerprint(ref('ml_customer_features')) }}) as fingerprint
#}
{% macro dataset_fingerprint(relation, columns=none) -%}
    {{ return(adapter.dispatch('dataset_fingerprint', 'ml_warehouse')(relation, columns)) }}
{%- endmacro %}

{% macro duckdb__dataset_fingerprint(relation, columns=none) -%}
    {#- At parse time there is no database to describe; the text is never run then. -#}
    {%- if not execute -%}
        {{ return("select cast(null as varchar) as fingerprint") }}
    {%- endif -%}

    {%- if 'warehouse.duckdb_plugin' not in (target.plugins or []) | map(attribute='module') | list -%}
        {{ exceptions.raise_compiler_error(
            "dataset_fingerprint: target '" ~ target.name ~ "' does not load the project's "
            ~ "dbt-duckdb plugin, whose function dataset_fingerprint_query renders the query. "
            ~ "Run with a target that lists `- module: warehouse.duckdb_plugin` under plugins "
            ~ "(dev and ci in profiles/profiles.yml), or compute the fingerprint from Python: "
            ~ "warehouse.fingerprint.fingerprint(connection, relation)."
        ) }}
    {%- endif -%}

    {%- set names = [] -%}
    {%- set types = [] -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- do names.append(dbt.string_literal(column.name | replace("'", "''"))) -%}
        {%- do types.append(dbt.string_literal(column.dtype | replace("'", "''"))) -%}
    {%- endfor -%}

    {#- columns goes as JSON, as the caller gave it, for Python to accept or refuse. -#}
    {%- set rendered = run_query(
        "select unnest(dataset_fingerprint_query("
        ~ dbt.string_literal(relation | string | replace("'", "''"))
        ~ ", [" ~ names | join(", ") ~ "]::varchar[]"
        ~ ", [" ~ types | join(", ") ~ "]::varchar[]"
        ~ ", " ~ dbt.string_literal(tojson(columns) | replace("'", "''")) ~ "))"
    ).rows[0] -%}
    {%- if rendered['error'] is not none -%}
        {{ exceptions.raise_compiler_error(rendered['error']) }}
    {%- endif -%}
    {{ return(rendered['query']) }}
{%- endmacro %}

{% macro default__dataset_fingerprint(relation, columns=none) -%}
    {{ exceptions.raise_compiler_error(
        "dataset_fingerprint has no implementation for adapter '" ~ adapter.type() ~ "': add "
        ~ adapter.type() ~ "__dataset_fingerprint in macros/fingerprint.sql, returning a query "
        ~ "that yields one varchar '<row count>:<md5 hex>' computed as the query of "
        ~ "warehouse/fingerprint.py does (an order-independent sum of per-row MD5s of a "
        ~ "canonical text of each row)."
    ) }}
{%- endmacro %}
