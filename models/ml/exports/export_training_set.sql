{#-
    The training set as Parquet for training jobs, one folder per entity split
    (exports/training_set_latest/entity_split=train|validation|test/), rewritten by every
    build. DuckDB creates only the last folder level, so exports/ must exist: make,
    Dagster and the run scripts create it. Immutable copies of
    each registered version are written by the dataset_publication asset under
    exports/training_set/version=<id>/. Datasheet: see ml_training_set.
    Leaving the warehouse, the exact country is replaced by three quasi-identifiers
    generalised to k-anonymity (age_band, country_area, postal_prefix; macros/k_anonymity.sql).
-#}
{{ config(
    materialized='external',
    location=env_var('WAREHOUSE_EXPORTS_DIR', env_var('WAREHOUSE_DATA_DIR', 'data') ~ '/exports')
        ~ '/training_set_latest',
    format='parquet',
    options={'partition_by': 'entity_split', 'overwrite': true},
) }}

{%- set columns = scored_customer_feature_columns()
    + ['churned_30d', 'spend_next_30d_eur', 'time_split', 'entity_split', 'time_entity_split'] %}
{%- set columns = columns | reject('equalto', 'country_code') | list %}

select
    {%- for column in columns %}
        training_rows.{{ column }},
    {%- endfor %}
    {{ k_anonymity_columns('generalisations') }}
from {{ ref('ml_training_set') }} as training_rows
{{ k_anonymity_joins('training_rows', ref('ml_training_set_generalisations'), 'generalisations') }}
