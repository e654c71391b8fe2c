{{ config(tags=['dataset_release']) }}
-- No training row may lack an attribute that the customer's newest change record valid and
-- landed before the as-of date carried: attributes are never left null because of when a
-- job ran (the snapshots only record what each run saw). Written from the rule, straight
-- against the staged change records, not through the history models the features use.
with

newest_known_records as (
    select
        training_rows.customer_id,
        training_rows.as_of_date,
        training_rows.segment,
        training_rows.country_code,
        training_rows.is_marketing_opt_in,
        records.segment as known_segment,
        records.country_code as known_country_code,
        records.is_marketing_opt_in as known_is_marketing_opt_in,
        row_number() over (
            partition by training_rows.customer_id, training_rows.as_of_date
            order by records.updated_at desc, records._ingest_date desc
        ) as recency_rank
    from {{ ref('ml_training_set') }} as training_rows
    inner join {{ ref('stg_shop__customers') }} as records
        on
            training_rows.customer_id = records.customer_id
            and records.updated_at < cast(training_rows.as_of_date as {{ dbt.type_timestamp() }})
            and training_rows.as_of_date > records._ingest_date
)

select
    customer_id,
    as_of_date
from newest_known_records
where
    recency_rank = 1
    and (
        (segment is null and known_segment is not null)
        or (country_code is null and known_country_code is not null)
        or (is_marketing_opt_in is null and known_is_marketing_opt_in is not null)
    )
