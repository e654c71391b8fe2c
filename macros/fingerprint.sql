{#
    A content fingerprint of a table, the same value warehouse/fingerprint.py computes
    from Python: both render the identical SQL text, character for character, so a
    fingerprint recorded at publication can be checked from dbt and the other way round.
    Keep the two in step; tests/python/unit/test_lakehouse.py compares them.

    Returns a query (no parentheses) that yields one varchar, "<row count>:<32 hex digits>":
        select ({{ dataset_fingerprint(ref('ml_customer_features')) }}) as fingerprint

    Each row becomes the JSON text of a struct of its columns (so null, '' and 'NULL' differ,
    and numbers and timestamps render the same in every session; timestamptz is shifted to
    UTC first because its text follows the session's TimeZone). Its MD5, as two 64-bit
    halves, is summed over all rows: the order of rows does not matter, and a duplicated
    row adds its hash again. DuckDB's hash() is avoided because it is not promised stable
    across versions. The halves are cut from md5_number with `&` and `>>` (the values of
    md5_number_upper and _lower, which go through bit strings: a third slower at scale M).
#}
{% macro dataset_fingerprint(relation, columns=none) -%}
    {{ return(adapter.dispatch('dataset_fingerprint', 'ml_warehouse')(relation, columns)) }}
{%- endmacro %}

{% macro duckdb__dataset_fingerprint(relation, columns=none) -%}
    {#- At parse time there is no database to describe; the text is never run then. -#}
    {%- if not execute -%}
        {{ return("select cast(null as varchar) as fingerprint") }}
    {%- endif -%}

    {%- set types = {} -%}
    {%- set relation_order = [] -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- do types.update({column.name: column.dtype}) -%}
        {%- do relation_order.append(column.name) -%}
    {%- endfor -%}

    {%- if columns is none -%}
        {%- set names = relation_order -%}
    {%- else -%}
        {%- if columns is string or columns | length == 0 -%}
            {{ exceptions.raise_compiler_error(
                "dataset_fingerprint: columns must be a non-empty list of column names, got " ~ columns
            ) }}
        {%- endif -%}
        {%- if columns | unique(case_sensitive=true) | list | length != columns | length -%}
            {{ exceptions.raise_compiler_error(
                "dataset_fingerprint: columns must be distinct, got " ~ columns
            ) }}
        {%- endif -%}
        {%- set names = columns | sort(case_sensitive=true) -%}
    {%- endif -%}

    {%- set fields = [] -%}
    {%- for name in names -%}
        {%- if name not in types -%}
            {{ exceptions.raise_compiler_error(
                "dataset_fingerprint: column " ~ name ~ " is not in " ~ relation
                ~ " (columns: " ~ relation_order | join(", ") ~ ")"
            ) }}
        {%- endif -%}
        {%- set quoted = '"' ~ name | replace('"', '""') ~ '"' -%}
        {%- set dtype = types[name] | upper -%}
        {%- if dtype == 'TIMESTAMP WITH TIME ZONE' -%}
            {%- set value = "timezone('UTC', " ~ quoted ~ ")" -%}
        {%- elif 'TIMESTAMP WITH TIME ZONE' in dtype -%}
            {{ exceptions.raise_compiler_error(
                "dataset_fingerprint: column " ~ name ~ " of " ~ relation ~ " nests a timestamptz ("
                ~ types[name] ~ "), whose text depends on the session's TimeZone; "
                ~ "fingerprint a projection with the timestamps converted to UTC instead"
            ) }}
        {%- else -%}
            {%- set value = quoted -%}
        {%- endif -%}
        {%- do fields.append(quoted ~ " := " ~ value) -%}
    {%- endfor -%}

    {{ return(
        "select cast(count(*) as varchar) || ':' || md5(cast(count(*) as varchar)"
        ~ " || ':' || cast(coalesce(sum(cast(fingerprint_hash"
        ~ " & cast(18446744073709551615 as uhugeint) as ubigint)), 0) as varchar)"
        ~ " || ':' || cast(coalesce(sum(cast(fingerprint_hash >> 64 as ubigint)), 0) as varchar))"
        ~ " as fingerprint from (select md5_number(cast(to_json(struct_pack(" ~ fields | join(", ") ~ "))"
        ~ " as varchar)) as fingerprint_hash from " ~ relation ~ ") as fingerprint_rows"
    ) }}
{%- endmacro %}

{% macro default__dataset_fingerprint(relation, columns=none) -%}
    {{ exceptions.raise_compiler_error(
        "dataset_fingerprint has no implementation for adapter '" ~ adapter.type() ~ "': add "
        ~ adapter.type() ~ "__dataset_fingerprint in macros/fingerprint.sql, returning a query "
        ~ "that yields one varchar '<row count>:<md5 hex>' computed as duckdb__dataset_fingerprint "
        ~ "does (an order-independent sum of per-row MD5s of a canonical text of each row)."
    ) }}
{%- endmacro %}
