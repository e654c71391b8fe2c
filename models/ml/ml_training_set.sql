{#-
    The training set: every labelled (customer, as-of date) with its features, joined on the
    same as-of date (features from before D, labels from after D: no leakage by
    construction), and three split columns:

    time_split: by as-of date, with an embargo of var split_embargo_days (at least the
        30-day label horizon) between the splits: a date D is train when
        D + embargo <= the validation cut-off, validation when it is on or after that
        cut-off and D + embargo <= the test cut-off, test from the test cut-off on, and
        'embargoed' otherwise (its label window would reach into a later split). The
        cut-offs are vars split_validation_start and split_test_start, or, left at 'auto',
        fall so that the train and validation shares apply to the days of the labelled
        as-of range left after reserving the embargo gaps (embargo - 1 days each; one gap
        when split_validation_share is 0). Embargoed rows stay in the entity split.
    entity_split: customers, not rows, are assigned, so a customer never appears in two
        splits. Within each stratum (the customer's label on their first labelled as-of
        date, which never changes) customers are ordered by a hash of their id and cut at
        the configured shares, so each split holds the same share of churners.
    time_entity_split: out of time and out of entity at once: a split's name where
        time_split and entity_split agree, 'excluded' elsewhere.

    All are deterministic: the same data gives the same splits on every run. With var
    dataset_as_of, only labels known by then are used, to rebuild a registered version.
    The vars are checked in macros/training_splits.sql.
-#}
{%- set shares = training_split_shares() %}
{%- set embargo = split_embargo_days() %}
{%- set cutoff_vars = time_split_cutoff_vars() %}
{#- the as-of dates between two time splits that neither may hold, and how many such gaps #}
{%- set gap_days = embargo - 1 %}
{%- set gap_count = 2 if shares.validation > 0 else 1 %}
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

{%- if cutoff_vars is none %}

    labelled_range as (
        select
            min(as_of_date) as first_date,
            max(as_of_date) as last_date
        from labelled_dates
    ),

    usable_range as (
        -- the labelled days left for the splits once the gaps are reserved
        select
            first_date,
            {{ dbt.datediff('first_date', 'last_date', 'day') }}
            + 1 - {{ gap_count * gap_days }} as usable_days
        from labelled_range
    ),

    split_day_counts as (
        -- the shares of those days, rounded up (as the entity split's cuts)
        select
            first_date,
            cast(ceil({{ shares.train }} * usable_days) as integer) as train_days,
            cast(ceil(({{ shares.train }} + {{ shares.validation }}) * usable_days) as integer)
                as train_and_validation_days
        from usable_range
    ),

    validation_cutoffs as (
        select
            train_and_validation_days - train_days as validation_days,
            cast({{ dbt.dateadd('day', 'train_days + ' ~ gap_days, 'first_date') }} as date) as validation_start
        from split_day_counts
    ),

    split_cutoffs as (
        select
            validation_start,
            cast(
                {{ dbt.dateadd('day', 'validation_days + ' ~ (gap_count - 1) * gap_days, 'validation_start') }} as date
            ) as test_start
        from validation_cutoffs
    ),
{%- else %}

    split_cutoffs as (
        select
            cast('{{ cutoff_vars[0] }}' as date) as validation_start,
            cast('{{ cutoff_vars[1] }}' as date) as test_start
    ),
{%- endif %}

time_splits as (
    select
        labelled_dates.as_of_date,
        case
            when
                {{ dbt.dateadd('day', embargo, 'labelled_dates.as_of_date') }} <= split_cutoffs.validation_start
                then 'train'
            when
                labelled_dates.as_of_date >= split_cutoffs.validation_start
                and {{ dbt.dateadd('day', embargo, 'labelled_dates.as_of_date') }} <= split_cutoffs.test_start
                then 'validation'
            when labelled_dates.as_of_date >= split_cutoffs.test_start then 'test'
            else 'embargoed'
        end as time_split
    from labelled_dates
    cross join split_cutoffs
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
            when rank_share < {{ shares.train }} then 'train'
            when rank_share < {{ shares.train + shares.validation }} then 'validation'
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
    entity_splits.entity_split,
    case
        when time_splits.time_split = entity_splits.entity_split then time_splits.time_split
        else 'excluded'
    end as time_entity_split
from labelled
inner join time_splits
    on labelled.as_of_date = time_splits.as_of_date
inner join entity_splits
    on labelled.customer_id = entity_splits.customer_id
