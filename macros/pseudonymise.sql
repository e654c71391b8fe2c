{#
    Keyed hash for direct identifiers (email, phone, IP address). The key (salt) comes from
    WAREHOUSE_PII_SALT so that the pseudonyms cannot be recomputed from a guessed email by
    anyone without it. Values are trimmed and lower-cased first so that "A@x.com " and
    "a@x.com" get the same pseudonym. Only the dev target may use the default salt
    (guard_pii_salt, macros/guard_salt.sql); how to rotate it: docs/governance.md.
#}
{% macro pii_salt() -%}
    {%- set salt = env_var('WAREHOUSE_PII_SALT', default_pii_salt()) -%}
    {%- do guard_pii_salt(salt) -%}
    {{ return(salt) }}
{%- endmacro %}

{% macro pseudonymise(column) -%}
    {{ return(adapter.dispatch('pseudonymise', 'ml_warehouse')(column)) }}
{%- endmacro %}

{% macro default__pseudonymise(column) -%}
    case when {{ column }} is not null then
        {{ dbt.hash(dbt.concat([pii_salt_literal(), "lower(trim(" ~ column ~ "))"])) }}
    end
{%- endmacro %}

{# DuckDB has SHA-256; dbt.hash is MD5 everywhere, too weak for a keyed pseudonym. #}
{% macro duckdb__pseudonymise(column) -%}
    case when {{ column }} is not null then
        sha256({{ pii_salt_literal() }} || lower(trim({{ column }})))
    end
{%- endmacro %}

{# The salt as a SQL string literal, quotes doubled (dbt.string_literal does not escape). #}
{% macro pii_salt_literal() -%}
    {{ return("'" ~ pii_salt() | replace("'", "''") ~ "'") }}
{%- endmacro %}
