{#
    The pseudonymisation salt must be a secret everywhere but on a developer's machine.
    guard_pii_salt() refuses any target other than dev when WAREHOUSE_PII_SALT is unset,
    still the development default, or shorter than 16 characters. It runs as the first
    on-run-start hook (dbt_project.yml), so a build stops before it writes anything, and
    again whenever pii_salt() is rendered for execution, so a compile or a single model
    cannot slip by (parsing, which renders without executing, is not refused). It returns no
    SQL.
#}
{% macro default_pii_salt() -%}
    {{ return('development-salt-not-secret') }}
{%- endmacro %}

{% macro pii_salt_development_targets() -%}
    {{ return(['dev']) }}
{%- endmacro %}

{% macro guard_pii_salt(salt=none) -%}
    {%- set salt = salt if salt is not none else env_var('WAREHOUSE_PII_SALT', default_pii_salt()) -%}
    {%- if execute and target.name not in pii_salt_development_targets() -%}
        {%- if salt == default_pii_salt() -%}
            {{ exceptions.raise_compiler_error(
                "Refusing to build target '" ~ target.name ~ "' with the default development salt: "
                ~ "set WAREHOUSE_PII_SALT to a secret of at least 16 characters (from your secret store; "
                ~ "docs/governance.md explains how it is rotated). Only the targets "
                ~ pii_salt_development_targets() | join(', ') ~ " may use the default."
            ) }}
        {%- elif salt | length < 16 -%}
            {{ exceptions.raise_compiler_error(
                "WAREHOUSE_PII_SALT is " ~ salt | length ~ " characters long; target '" ~ target.name
                ~ "' needs a secret of at least 16 characters."
            ) }}
        {%- endif -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
