{#
    Which ingest dates a run reads and rewrites.

    The vars min_date and max_date bound the lake partitions a run reads (the defaults mean
    "everything"). They come from the command line, so they are checked to be plain ISO
    dates before they reach SQL (macros/validated_vars.sql). Dagster's daily partitions (and
    the benchmark) give the window through the environment instead: window_date below.

    Incremental models rewrite whole ingest dates: from `incremental_window_start()` to
    max_date. When min_date is given, that start is min_date, or an earlier day of the
    lookback (lookback_days before min_date) where a file landed late or was re-delivered
    since the model's last successful build; else lookback_days before the newest ingest
    date the model already holds. So a file that lands late in a recent partition is still
    picked up, and re-running a day replaces it instead of adding to it.

    The macros a generic test calls (min_date_is_set, lake_window_start) call the others by
    the package's name, as dbt_utils does: the test also runs in projects that install the
    warehouse as a package, where a bare name does not resolve from the package's macros.
#}
{#
    min_date or max_date of this run: the var, or the environment variable
    WAREHOUSE_WINDOW_MIN_DATE / WAREHOUSE_WINDOW_MAX_DATE, read only while the run executes.
    Why: dbt re-parses the whole project whenever the vars differ from its last parse
    (a large share of a daily run: bench/RESULTS.md), and every day's window is new; an
    environment variable read at execution time is not part of what dbt parsed. The
    run's log says when the window came from the environment (announce_ingest_window). A
    run given both, with different dates, is refused.
#}
{% macro window_date(name) -%}
    {%- set from_var = ml_warehouse.validated_date_var(name) -%}
    {%- set variable = 'WAREHOUSE_WINDOW_' ~ (name | upper) -%}
    {%- set from_env = env_var(variable, '') if execute else '' -%}
    {%- if from_env == '' -%}
        {{ return(from_var) }}
    {%- endif -%}
    {%- set from_env = ml_warehouse.validated_date(from_env, 'environment variable ' ~ variable) -%}
    {%- set default = {'min_date': '1900-01-01', 'max_date': '2999-12-31'}[name] -%}
    {%- if from_var not in (default, from_env) -%}
        {{ exceptions.raise_compiler_error(
            "the run's window is given twice: var '" ~ name ~ "' is " ~ from_var ~ " and "
            ~ variable ~ " is " ~ from_env ~ "; unset " ~ variable ~ " or drop the var"
        ) }}
    {%- endif -%}
    {{ return(from_env) }}
{%- endmacro %}

{# on-run-start: say so when the environment narrows this run's window. #}
{% macro announce_ingest_window() -%}
    {%- if execute and (env_var('WAREHOUSE_WINDOW_MIN_DATE', '') or env_var('WAREHOUSE_WINDOW_MAX_DATE', '')) -%}
        {{ log("Ingest window from the environment: " ~ window_date('min_date') ~ " to "
            ~ window_date('max_date') ~ " (WAREHOUSE_WINDOW_MIN_DATE / _MAX_DATE; unset them "
            ~ "for a build of everything)", info=true) }}
    {%- endif -%}
{%- endmacro %}

{% macro lookback_days() -%}
    {{ return(ml_warehouse.validated_integer_var('lookback_days', 0, 365)) }}
{%- endmacro %}

{% macro days_before(iso_date, days) -%}
    {%- set day = modules.datetime.date.fromisoformat(iso_date | string) -%}
    {{ return((day - modules.datetime.timedelta(days=days)).isoformat()) }}
{%- endmacro %}

{% macro min_date_is_set() -%}
    {{ return(ml_warehouse.window_date('min_date') != '1900-01-01') }}
{%- endmacro %}

{# Lower bound of the lake partitions read: min_date, widened by the lookback when set. #}
{% macro lake_window_start() -%}
    {%- set lookback = ml_warehouse.lookback_days() -%}  {#- checked on every run, used or not #}
    {%- if ml_warehouse.min_date_is_set() -%}
        {{ return(ml_warehouse.days_before(ml_warehouse.window_date('min_date'), lookback)) }}
    {%- endif -%}
    {{ return(ml_warehouse.window_date('min_date')) }}
{%- endmacro %}

{% macro ingest_window(column) -%}
    {{ column }} between cast('{{ lake_window_start() }}' as date)
        and cast('{{ window_date("max_date") }}' as date)
{%- endmacro %}

{# First ingest date an incremental model rewrites in this run. #}
{% macro incremental_window_start(date_column='_ingest_date', announce=true) -%}
    {%- if not is_incremental() or not execute -%}
        {{ return(lake_window_start()) }}
    {%- endif -%}
    {%- if min_date_is_set() -%}
        {{ return(windowed_rewrite_start(announce)) }}
    {%- endif -%}
    {%- set newest = run_query('select max(' ~ date_column ~ ') from ' ~ this).columns[0].values()[0] -%}
    {%- if newest is none -%}
        {{ return(lake_window_start()) }}
    {%- endif -%}
    {{ return(days_before(newest, lookback_days())) }}
{%- endmacro %}

{#
    In a run given a window (a daily partition), the first ingest date the incremental model
    being built rewrites: min_date, or the earliest day of its lookback that holds a lake
    file inspected after the model's last successful build (audit.lake_file_inventory's
    inspected_at against audit.dbt_run_results): a file that landed late, or was re-delivered,
    since the model last read that day. Rewriting the lookback days every run would redo
    them for nothing on most days (a daily run's largest cost at scale M, bench/RESULTS.md).
    The model's own last success is the key, so a retry after a failed run rewrites what
    that run did not. With no recorded success (a new model or warehouse, an inventory from
    before inspected_at), the whole lookback. A file removed from the lake (retention) is
    not a change: what the model loaded from it stays.
#}
{% macro windowed_rewrite_start(announce=true) -%}
    {%- set min_date = window_date('min_date') -%}
    {%- set lookback_start = lake_window_start() -%}
    {%- if lookback_start == min_date -%}
        {{ return(min_date) }}
    {%- endif -%}
    {#- an inventory the run may reuse has inspected_at -#}
    {%- set inventory = reusable_lake_inventory(existing_audit_relation('lake_file_inventory')) -%}
    {%- set trail = audit_trail_relation() -%}
    {%- set trail = adapter.get_relation(
        database=trail.database, schema=trail.schema, identifier=trail.identifier
    ) -%}
    {%- if inventory is none or trail is none -%}
        {{ return(lookback_start) }}
    {%- endif -%}
    {%- set changed = run_query(
        "select cast(min(ingest_date) as varchar) from " ~ inventory
        ~ " where ingest_date >= cast('" ~ lookback_start ~ "' as date)"
        ~ " and ingest_date < cast('" ~ min_date ~ "' as date)"
        ~ " and inspected_at > coalesce((select max(run_started_at) from " ~ trail
        ~ " where unique_id = '" ~ model.unique_id ~ "' and status = 'success'),"
        ~ " cast('1900-01-01' as timestamp))"
    ).columns[0].values()[0] -%}
    {%- if changed is none -%}
        {{ return(min_date) }}
    {%- endif -%}
    {%- if announce -%}
        {{ log(model.name ~ ": a lake file of " ~ changed ~ " was inspected after this model's last "
            ~ "successful build (late or re-delivered); rewriting from " ~ changed, info=true) }}
    {%- endif -%}
    {{ return(changed) }}
{%- endmacro %}

{#
    `column` in the ingest dates an incremental model rewrites. `start` is the model's
    incremental_window_start(), when the model has it already: a model using the window
    several times asks once.
#}
{% macro incremental_window(column, date_column='_ingest_date', start=none) -%}
    {%- set start = start if start is not none else incremental_window_start(date_column) -%}
    {{ column }} between cast('{{ start }}' as date)
        and cast('{{ window_date("max_date") }}' as date)
{%- endmacro %}
