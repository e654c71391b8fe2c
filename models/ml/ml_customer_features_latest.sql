{#-
    Serving features: one row per live customer as of the morning after the newest landed
    day. They are the training table's rows of its newest as-of date, so a model sees in
    production exactly the features it was trained on, and a daily run computes them once
    (the training table's incremental run already does).
-#}
{%- set training_features = ref('ml_customer_features', v=1) %}
{%- set columns = scored_customer_feature_columns() %}

with

newest_as_of_date as (
    select max(as_of_date) as as_of_date
    from {{ training_features }}
)

select
    {%- for column in columns if column != 'as_of_date' %}
        training_features.{{ column }},
    {%- endfor %}
    training_features.as_of_date
from {{ training_features }} as training_features
inner join newest_as_of_date
    on training_features.as_of_date = newest_as_of_date.as_of_date
