{#-
    Serving features: one row per live customer as of the morning after the newest landed
    day, from the same customer_features macro as the training table, so a model sees in
    production exactly the features it was trained on.
-#}
{%- set as_of_dates_sql %}
    select cast({{ dbt.dateadd('day', 1, 'max(_ingest_date)') }} as date) as as_of_date
    from {{ ref('stg_shop__orders') }}
{%- endset %}

{{ customer_features(as_of_dates_sql) }}
