{#
    Vars come from the command line (--vars) and from Dagster config, so every var that is
    written into SQL goes through one of these first: a value that is not exactly what the
    var holds (a date, a whole number, a share, a plain token) stops compilation with a
    message naming the var, what it must be and what it got, before any SQL is built from
    it. A crafted value such as "2026-01-01'; drop table ..." never reaches a query.
#}
{% macro refuse_var(name, expected, value) -%}
    {{ exceptions.raise_compiler_error(
        "var '" ~ name ~ "' must be " ~ expected ~ ", got '" ~ value ~ "' (refused: vars are "
        ~ "written into SQL, so only that form is accepted)"
    ) }}
{%- endmacro %}

{# A real calendar date written YYYY-MM-DD (2026-02-30 is refused too). #}
{% macro validated_date_var(name) -%}
    {{ return(ml_warehouse.validated_date(var(name), "var '" ~ name ~ "'")) }}
{%- endmacro %}

{% macro validated_date(value, what) -%}
    {%- set value = value | string -%}
    {%- set match = modules.re.fullmatch('([0-9]{4})-(0[1-9]|1[0-2])-([0-9]{2})', value) -%}
    {%- if not match -%}
        {{ exceptions.raise_compiler_error(
            what ~ " must be a date written YYYY-MM-DD, got '" ~ value ~ "'"
        ) }}
    {%- endif -%}
    {%- set year, month, day = match.group(1) | int, match.group(2) | int, match.group(3) | int -%}
    {%- set next_month = modules.datetime.date(year + (month // 12), month % 12 + 1, 1) -%}
    {%- set month_days = (next_month - modules.datetime.timedelta(days=1)).day -%}
    {%- if day < 1 or day > month_days -%}
        {{ exceptions.raise_compiler_error(
            what ~ " must be a date written YYYY-MM-DD, got '" ~ value ~ "' (no such day)"
        ) }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{# A whole number between min_value and max_value. #}
{% macro validated_integer_var(name, min_value=0, max_value=100000) -%}
    {%- set value = var(name) | string -%}
    {%- if not modules.re.fullmatch('[0-9]{1,9}', value)
        or (value | int) < min_value or (value | int) > max_value -%}
        {{ ml_warehouse.refuse_var(name, 'a whole number from ' ~ min_value ~ ' to ' ~ max_value, value) }}
    {%- endif -%}
    {{ return(value | int) }}
{%- endmacro %}

{# A share between 0 and 1 written as a decimal number (0.7, .15, 1). #}
{% macro validated_share_var(name) -%}
    {%- set value = var(name) | string -%}
    {%- if not modules.re.fullmatch('(0|1)?([.][0-9]{1,9})?', value) or value in ('', '.')
        or (value | float) > 1 -%}
        {{ refuse_var(name, 'a share between 0 and 1 written as a decimal number, e.g. 0.7', value) }}
    {%- endif -%}
    {{ return(value | float) }}
{%- endmacro %}

{# A plain token (letters, digits, dot, dash, underscore; up to 80), e.g. a git commit. #}
{% macro validated_token(value, what) -%}
    {%- set value = value | string -%}
    {%- if not modules.re.fullmatch('[A-Za-z0-9._-]{1,80}', value) -%}
        {{ exceptions.raise_compiler_error(
            what ~ " must be a plain token (letters, digits, '.', '-', '_'; at most 80), got '"
            ~ value ~ "' (refused: it is written into SQL)"
        ) }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}
