-- Rows, customers and label balance per split, for the three split schemes of the training
-- set: time (with its 'embargoed' rows), entity, and time_entity (with its 'excluded' rows).
with

training_rows as (
    select
        customer_id,
        churned_30d,
        spend_next_30d_eur,
        time_split,
        entity_split,
        time_entity_split
    from {{ ref('ml_training_set') }}
),

by_scheme as (
    select
        'time' as split_scheme,
        time_split as split,
        customer_id,
        churned_30d,
        spend_next_30d_eur
    from training_rows
    union all
    select
        'entity' as split_scheme,
        entity_split as split,
        customer_id,
        churned_30d,
        spend_next_30d_eur
    from training_rows
    union all
    select
        'time_entity' as split_scheme,
        time_entity_split as split,
        customer_id,
        churned_30d,
        spend_next_30d_eur
    from training_rows
)

select
    split_scheme,
    split,
    count(*) as row_count,
    count(distinct customer_id) as customer_count,
    cast(avg(case when churned_30d then 1.0 else 0.0 end) as decimal(9, 4)) as churn_rate,
    cast(avg(spend_next_30d_eur) as decimal(14, 2)) as mean_spend_next_30d_eur
from by_scheme
group by split_scheme, split
