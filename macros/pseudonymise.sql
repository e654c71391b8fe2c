{#
    Keyed hash for direct identifiers (email, phone, IP address). The key (salt) comes from
    WAREHOUSE_PII_SALT so that the pseudonyms cannot be recomputed from a guessed email by
    anyone without it. Values are trimmed and lower-cased first so that "A@x.com " and
    "a@x.com" get the same pseudonym.
#}
{% macro pii_salt() -%}
    {{ return(env_var('WAREHOUSE_PII_SALT', 'development-salt-not-secret')) }}
{%- endmacro %}

{% macro pseudonymise(column) -%}
    {{ return(adapter.dispatch('pseudonymise', 'ml_warehouse')(column)) }}
{%- endmacro %}

{% macro default__pseudonymise(column) -%}
    case when {{ column }} is not null then
        {{ dbt.hash(dbt.concat([dbt.string_literal(pii_salt()), "lower(trim(" ~ column ~ "))"])) }}
    end
{%- endmacro %}

{# DuckDB has SHA-256; dbt.hash is MD5 everywhere, too weak for a keyed pseudonym. #}
{% macro duckdb__pseudonymise(column) -%}
    case when {{ column }} is not null then
        sha256({{ dbt.string_literal(pii_salt()) }} || lower(trim({{ column }})))
    end
{%- endmacro %}
