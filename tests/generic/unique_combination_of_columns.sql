{#
    Fails for every combination of `combination_of_columns` that occurs more than once.
    dbt_utils has the same test, but dbt Hub packages cannot be installed where this
    project is built (see README), so the few generic tests it needs live here.

    `partition_column` (optional) is the date column an incremental model rewrites whole
    partitions by (its ingest or as-of date). In a run narrowed to a window (a Dagster
    daily partition: macros/ingest_window.sql) the test then checks only the keys found in
    the partitions from the window's start, lookback included, against the whole table:
    every older row is as the previous run left it, and that run checked it. Grouping the
    whole table instead costs seconds a day at scale M (bench/RESULTS.md). When the
    partition column is part of the key, a duplicate lies within one partition, so only
    those partitions are read. A run without a window (a full build, `dbt build` by hand,
    CI) checks every row. So a duplicate a daily run reports is reported again by the
    following daily runs only while one of its rows lies in their window; a run without a
    window always finds it.
#}
{#- The window's macros by their package name: this test also runs in projects that install
    the warehouse as a package (tests/python/integration/fixtures/generic_tests). #}
{% test unique_combination_of_columns(model, combination_of_columns, partition_column=none) %}
{%- set key = combination_of_columns | join(', ') -%}
{%- set narrowed = partition_column is not none and ml_warehouse.min_date_is_set() -%}
{%- if narrowed -%}
    {%- set rewritten = partition_column ~ " >= cast('" ~ ml_warehouse.lake_window_start() ~ "' as date)" -%}
{%- endif %}
select
    {{ key }},
    count(*) as occurrences
from {{ model }}
{%- if narrowed and partition_column in combination_of_columns %}
where {{ rewritten }}
{%- elif narrowed %}
where ({{ key }}) in (
    select {{ key }}
    from {{ model }}
    where {{ rewritten }}
)
{%- endif %}
group by {{ key }}
having count(*) > 1
{% endtest %}
