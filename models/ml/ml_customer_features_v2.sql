{#-
    Version 2 of the training features: is_marketing_opt_in is renamed
    has_marketing_consent (the name the consent service uses), and orders_per_session_30d
    is added. Built on version 1, so the two can never disagree on a shared column. New
    consumers read this (the latest version); existing ones pin v=1 until its deprecation
    date (models/ml/_ml__models.yml).
-#}
{{ config(materialized='view') }}

{%- set renamed = {'is_marketing_opt_in': 'has_marketing_consent'} %}
{%- set v1_columns = scored_customer_feature_columns() %}

select
    {%- for column in v1_columns %}
        {{ column }}{{ " as " ~ renamed[column] if column in renamed }},
    {%- endfor %}
    cast(orders_30d / nullif(sessions_30d, 0) as decimal(9, 4)) as orders_per_session_30d
from {{ ref('ml_customer_features', v=1) }}
