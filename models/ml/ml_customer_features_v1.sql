{#-
    Training features: one row per customer alive on an as-of date, for every as-of date
    (the morning after each landed day). The SQL is the customer_features macro;
    ml_customer_features_latest serves the rows of the newest as-of date. A row for D uses
    only what had happened and landed before D, so later data never changes it: the table
    is incremental by as-of date, and any registered version rebuilds bit for bit
    (docs/versioning.md).
    var dataset_as_of (YYYY-MM-DD) caps the as-of dates, to rebuild a registered version.
-#}
{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='as_of_date', on_schema_change='fail'
) }}

{%- set first_ingest_date = incremental_window_start(date_column='as_of_date') -%}
{%- set as_of_dates_sql %}
    select distinct cast({{ dbt.dateadd('day', 1, '_ingest_date') }} as date) as as_of_date
    from {{ ref('stg_shop__orders') }}
    where
        _ingest_date < cast('{{ validated_date_var("dataset_as_of") }}' as date)
        and {{ incremental_window('_ingest_date', start=first_ingest_date) }}
{%- endset %}

{{ customer_features(as_of_dates_sql, first_ingest_date) }}
