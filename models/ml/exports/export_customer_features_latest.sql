{#-
    Today's serving features as Parquet under a folder named by their as-of date
    (as_of_date=YYYY-MM-DD), for batch scoring and the online store's nightly load; the
    folder is rewritten by every build. Datasheet: see ml_customer_features_latest.
-#}
{{ config(
    materialized='external',
    location=env_var('WAREHOUSE_EXPORTS_DIR', env_var('WAREHOUSE_DATA_DIR', 'data') ~ '/exports')
        ~ '/customer_features_latest',
    format='parquet',
    options={'partition_by': 'as_of_date', 'overwrite': true},
) }}

{%- set columns = customer_feature_columns() + ['recency_score', 'frequency_score', 'monetary_score'] %}

select
    {{ columns | join(",\n    ") }}
from {{ ref('ml_customer_features_latest') }}
