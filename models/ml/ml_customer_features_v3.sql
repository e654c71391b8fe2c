{#-
    Version 3 of the training features: version 2 with the helpdesk feature group
    (ml_customer_features__support, from the support system's tickets): tickets opened in
    the last 7, 30 and 90 days, unresolved tickets, the median first-response time of the
    last 90 days and the last satisfaction score. Built on version 2, so the versions never
    disagree on a shared column; v2 and v1 stay for their consumers (models/ml/_ml__models.yml).
-#}
{{ config(materialized='view') }}
{%- set v2_columns = [] %}
{%- for column in scored_customer_feature_columns() %}
    {%- do v2_columns.append({'is_marketing_opt_in': 'has_marketing_consent'}.get(column, column)) %}
{%- endfor %}
{%- do v2_columns.append('orders_per_session_30d') %}

with

features_v2 as (
    select * from {{ ref('ml_customer_features', v=2) }}
),

support as (
    select * from {{ ref('ml_customer_features__support') }}
)

select
    {%- for column in v2_columns %}
        features_v2.{{ column }},
    {%- endfor %}
    {%- for days in feature_windows() %}
        coalesce(support.tickets_{{ days }}d, 0) as tickets_{{ days }}d,
    {%- endfor %}
    coalesce(support.unresolved_tickets, 0) as unresolved_tickets,
    support.median_first_response_hours_{{ feature_windows() | max }}d,
    support.last_satisfaction_score
from features_v2
left join support
    on
        features_v2.customer_id = support.customer_id
        and features_v2.as_of_date = support.as_of_date
