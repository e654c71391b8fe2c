{#-
    The dataset registry: one row per distinct version of each ML dataset ever built,
    appended and never rewritten (full_refresh is disabled, so even `dbt build
    --full-refresh` keeps it). A version is identified by its content: a build that yields
    the same rows as the latest registered version adds nothing. `make dataset AS_OF=...`
    rebuilds a registered version from history and compares fingerprints.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='fail',
) }}

{%- set dataset_name = 'customer_features' %}
{%- set dataset = ref('ml_customer_features') %}

with

dataset_rows as (
    select
        as_of_date,
        customer_id
    from {{ dataset }}
),

summary as (
    select
        max(as_of_date) as as_of_date,
        count(*) as row_count,
        count(distinct customer_id) as entity_count
    from dataset_rows
),

built as (
    select
        '{{ dataset_name }}' as dataset_name,
        summary.as_of_date,
        summary.row_count,
        summary.entity_count,
        '{"all": ' || cast(summary.row_count as {{ dbt.type_string() }}) || '}' as row_counts_by_split,
        cast(null as {{ dbt.type_string() }}) as label_balance,
        ({{ dataset_fingerprint(dataset) }}) as fingerprint,
        '{{ var("git_commit", env_var("WAREHOUSE_GIT_COMMIT", "unknown")) }}' as git_commit,
        '{{ invocation_id }}' as dbt_invocation_id,
        {{ dbt.current_timestamp() }} as built_at
    from summary
)

select
    {{ dbt.hash("dataset_name || '/' || cast(as_of_date as " ~ dbt.type_string() ~ ") || '/' || fingerprint") }}
        as version_id,
    dataset_name,
    as_of_date,
    row_count,
    entity_count,
    row_counts_by_split,
    label_balance,
    fingerprint,
    git_commit,
    dbt_invocation_id,
    built_at
from built
{% if is_incremental() %}
    where not exists (
        select 1
        from {{ this }} as registered
        where
            registered.dataset_name = built.dataset_name
            and registered.as_of_date = built.as_of_date
            and registered.fingerprint = built.fingerprint
    )
{% endif %}
