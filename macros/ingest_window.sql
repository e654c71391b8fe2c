{#
    Which ingest dates a run reads and rewrites.

    The vars min_date and max_date bound the lake partitions a run reads (Dagster's daily
    partitions set them; the defaults mean "everything"). They come from the command line,
    so they are checked to be plain ISO dates before they reach SQL (macros/validated_vars.sql).

    Incremental models rewrite whole ingest dates: from `incremental_window_start()` to
    max_date. That start is lookback_days before min_date when min_date is given, else
    lookback_days before the newest ingest date the model already holds, so a file that
    lands late in a recent partition is still picked up, and re-running a day replaces it
    instead of adding to it.
#}
{% macro lookback_days() -%}
    {{ return(validated_integer_var('lookback_days', 0, 365)) }}
{%- endmacro %}

{% macro days_before(iso_date, days) -%}
    {%- set day = modules.datetime.date.fromisoformat(iso_date | string) -%}
    {{ return((day - modules.datetime.timedelta(days=days)).isoformat()) }}
{%- endmacro %}

{% macro min_date_is_set() -%}
    {{ return(validated_date_var('min_date') != '1900-01-01') }}
{%- endmacro %}

{# Lower bound of the lake partitions read: min_date, widened by the lookback when set. #}
{% macro lake_window_start() -%}
    {%- set lookback = lookback_days() -%}  {#- checked on every run, used or not #}
    {%- if min_date_is_set() -%}
        {{ return(days_before(validated_date_var('min_date'), lookback)) }}
    {%- endif -%}
    {{ return(validated_date_var('min_date')) }}
{%- endmacro %}

{% macro ingest_window(column) -%}
    {{ column }} between cast('{{ lake_window_start() }}' as date)
        and cast('{{ validated_date_var("max_date") }}' as date)
{%- endmacro %}

{# First ingest date an incremental model rewrites in this run. #}
{% macro incremental_window_start(date_column='_ingest_date') -%}
    {%- if min_date_is_set() or not is_incremental() or not execute -%}
        {{ return(lake_window_start()) }}
    {%- endif -%}
    {%- set newest = run_query('select max(' ~ date_column ~ ') from ' ~ this).columns[0].values()[0] -%}
    {%- if newest is none -%}
        {{ return(lake_window_start()) }}
    {%- endif -%}
    {{ return(days_before(newest, lookback_days())) }}
{%- endmacro %}

{% macro incremental_window(column, date_column='_ingest_date') -%}
    {{ column }} between cast('{{ incremental_window_start(date_column) }}' as date)
        and cast('{{ validated_date_var("max_date") }}' as date)
{%- endmacro %}
