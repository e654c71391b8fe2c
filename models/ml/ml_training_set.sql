{#-
    The training set: every labelled (customer, as-of date) with its features, joined on the
    same as-of date (features from before D, labels from after D: no leakage by
    construction), and two split columns:

    time_split: train before split_validation_start, validation before split_test_start,
        test from then on. Left at 'auto', the cut-offs fall at the train and validation
        shares of the labelled as-of dates.
    entity_split: customers, not rows, are assigned, so a customer never appears in two
        splits. Within each stratum (the customer's label on their first labelled as-of
        date, which never changes) customers are ordered by a hash of their id and cut at
        the configured shares, so each split holds the same share of churners.

    Both are deterministic: the same data gives the same splits on every run. With var
    dataset_as_of, only labels known by then are used, to rebuild a registered version.
-#}
{%- set train_share = validated_share_var('split_train_share') %}
{%- set validation_share = validated_share_var('split_validation_share') %}
{%- if not (0 < train_share and 0 <= validation_share and train_share + validation_share < 1) %}
    {{ exceptions.raise_compiler_error(
        "vars split_train_share (" ~ train_share ~ ") and split_validation_share (" ~ validation_share
        ~ ") must be shares between 0 and 1 that leave room for a test split"
    ) }}
{%- endif %}
{%- set feature_columns = scored_customer_feature_columns() %}

with

labelled as (
    select
        {%- for column in feature_columns %}
            features.{{ column }},
        {%- endfor %}
        labels.churned_30d,
        labels.spend_next_30d_eur
    from {{ ref('ml_customer_labels') }} as labels
    inner join {{ ref('ml_customer_features', v=1) }} as features
        on
            labels.customer_id = features.customer_id
            and labels.as_of_date = features.as_of_date
    -- as known on dataset_as_of: only labels whose window had passed by then
    where
        {{ dbt.dateadd('day', label_horizon_days(), 'labels.as_of_date') }}
        <= cast('{{ validated_date_var("dataset_as_of") }}' as date)
),

labelled_dates as (
    select distinct as_of_date from labelled
),

date_positions as (
    select
        as_of_date,
        1.0 * (row_number() over (order by as_of_date) - 1) / count(*) over () as rank_share
    from labelled_dates
),

time_splits as (
    select
        as_of_date,
        {%- if var('split_validation_start') == 'auto' %}
            case
                when rank_share < {{ train_share }} then 'train'
                when rank_share < {{ train_share + validation_share }} then 'validation'
                else 'test'
            end as time_split
        {%- else %}
            case
                when as_of_date < cast('{{ validated_date_var("split_validation_start") }}' as date) then 'train'
                when as_of_date < cast('{{ validated_date_var("split_test_start") }}' as date) then 'validation'
                else 'test'
            end as time_split
        {%- endif %}
    from date_positions
),

customer_strata as (
    select
        customer_id,
        churned_30d as stratum
    from (
        select
            customer_id,
            churned_30d,
            row_number() over (partition by customer_id order by as_of_date) as labelled_date_number
        from labelled
    ) as first_labels
    where labelled_date_number = 1
),

customer_positions as (
    select
        customer_id,
        1.0 * (row_number() over (partition by stratum order by {{ dbt.hash('customer_id') }}, customer_id) - 1)
        / count(*) over (partition by stratum) as rank_share
    from customer_strata
),

entity_splits as (
    select
        customer_id,
        case
            when rank_share < {{ train_share }} then 'train'
            when rank_share < {{ train_share + validation_share }} then 'validation'
            else 'test'
        end as entity_split
    from customer_positions
)

select
    {%- for column in feature_columns %}
        labelled.{{ column }},
    {%- endfor %}
    labelled.churned_30d,
    labelled.spend_next_30d_eur,
    time_splits.time_split,
    entity_splits.entity_split
from labelled
inner join time_splits
    on labelled.as_of_date = time_splits.as_of_date
inner join entity_splits
    on labelled.customer_id = entity_splits.customer_id
