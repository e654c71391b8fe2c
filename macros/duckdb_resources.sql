{#
    DuckDB's resource settings for a run, from the environment, applied on-run-start:

        WAREHOUSE_DUCKDB_MEMORY_LIMIT   e.g. 2GiB: past it, joins, aggregates and sorts spill
                                        to the temp directory instead of failing
                                        (default: DuckDB's, 80% of the machine's memory)
        WAREHOUSE_DUCKDB_TEMP_DIR       where they spill (default: DuckDB's, <database>.tmp)
        WAREHOUSE_DUCKDB_THREADS        worker threads (default: DuckDB's, one per core)

    A hook and not the profile's `settings`: a profile cannot leave a setting at DuckDB's
    default when the variable is unset, and these settings are global to the database, so
    setting them once on the run's connection applies to every model's thread.
#}
{% macro duckdb_resource_settings() -%}
    {{ return(adapter.dispatch('duckdb_resource_settings', 'ml_warehouse')()) }}
{%- endmacro %}

{% macro duckdb__duckdb_resource_settings() -%}
    {%- set statements = [] -%}
    {%- set memory_limit = env_var('WAREHOUSE_DUCKDB_MEMORY_LIMIT', '') | trim -%}
    {%- if memory_limit -%}
        {%- if not modules.re.fullmatch('[0-9]+(\\.[0-9]+)? ?(KB|MB|GB|TB|KiB|MiB|GiB|TiB)', memory_limit) -%}
            {{ exceptions.raise_compiler_error(
                "WAREHOUSE_DUCKDB_MEMORY_LIMIT must be an amount such as 2GiB or 512MB, got '"
                ~ memory_limit ~ "'"
            ) }}
        {%- endif -%}
        {%- do statements.append("set memory_limit = '" ~ memory_limit ~ "'") -%}
    {%- endif -%}
    {%- set temp_directory = env_var('WAREHOUSE_DUCKDB_TEMP_DIR', '') | trim -%}
    {%- if temp_directory -%}
        {%- if "'" in temp_directory -%}
            {{ exceptions.raise_compiler_error(
                "WAREHOUSE_DUCKDB_TEMP_DIR must be a plain path without quotes, got '" ~ temp_directory ~ "'"
            ) }}
        {%- endif -%}
        {%- do statements.append("set temp_directory = '" ~ temp_directory ~ "'") -%}
    {%- endif -%}
    {%- set threads = env_var('WAREHOUSE_DUCKDB_THREADS', '') | trim -%}
    {%- if threads -%}
        {%- if not modules.re.fullmatch('[1-9][0-9]{0,3}', threads) -%}
            {{ exceptions.raise_compiler_error(
                "WAREHOUSE_DUCKDB_THREADS must be a whole number of threads, got '" ~ threads ~ "'"
            ) }}
        {%- endif -%}
        {%- do statements.append("set threads = " ~ threads) -%}
    {%- endif -%}
    {{ return(statements | join(';\n') if statements else 'select 1 as default_resource_settings') }}
{%- endmacro %}

{% macro default__duckdb_resource_settings() -%}
    {#- Other engines size their clusters outside dbt. -#}
    {{ return('select 1 as default_resource_settings') }}
{%- endmacro %}
