{#-
    Today's serving features as Parquet under a folder named by their as-of date
    (as_of_date=YYYY-MM-DD), for batch scoring and the online store's nightly load; the
    folder is rewritten by every build. Datasheet: see ml_customer_features_latest.
    Leaving the warehouse, the exact country is replaced by three quasi-identifiers
    generalised to k-anonymity (age_band, country_area, postal_prefix; macros/k_anonymity.sql).
-#}
{{ config(
    materialized='external',
    location=env_var('WAREHOUSE_EXPORTS_DIR', env_var('WAREHOUSE_DATA_DIR', 'data') ~ '/exports')
        ~ '/customer_features_latest',
    format='parquet',
    options={'partition_by': 'as_of_date', 'overwrite': true},
) }}

{%- set columns = scored_customer_feature_columns() %}
{%- set columns = columns | reject('equalto', 'country_code') | list %}

select
    {%- for column in columns if column != 'as_of_date' %}
        serving_rows.{{ column }},
    {%- endfor %}
    {{ k_anonymity_columns('generalisations') }},
    serving_rows.as_of_date
from {{ ref('ml_customer_features_latest') }} as serving_rows
{{ k_anonymity_joins('serving_rows', ref('ml_customer_features_latest_generalisations'), 'generalisations') }}
