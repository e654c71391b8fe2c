{#-
    The dataset registry: one row per distinct version of each ML dataset ever built,
    appended and never rewritten (full_refresh is disabled, so even `dbt build
    --full-refresh` keeps it). A version is identified by its content: a build that yields
    the same rows as an already registered version adds nothing. Its as-of date is the
    knowledge date of the build (the newest feature as-of date), the value of var
    dataset_as_of that rebuilds it: `make dataset AS_OF=...`.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='fail',
) }}

{%- set datasets = [
    {'name': 'customer_features', 'relation': ref('ml_customer_features', v=1), 'split': none, 'label': none},
    {'name': 'training_set', 'relation': ref('ml_training_set'), 'split': 'entity_split', 'label': 'churned_30d'},
] %}

with

knowledge as (
    select max(as_of_date) as as_of_date
    from {{ ref('ml_customer_features', v=1) }}
),

{% for dataset in datasets %}
    {%- set relation = dataset.relation %}
    {{ dataset.name }}_splits as (
        select
            {{ dataset.split if dataset.split else "'all'" }} as split,
            count(*) as row_count,
            {%- if dataset.label %}
                avg(case when {{ dataset.label }} then 1.0 else 0.0 end) as positive_share
            {%- else %}
                cast(null as double) as positive_share
            {%- endif %}
        from {{ relation }}
        group by {{ dataset.split if dataset.split else "'all'" }}
    ),

    {{ dataset.name }}_built as (
        select
            '{{ dataset.name }}' as dataset_name,
            knowledge.as_of_date,
            (select count(*) from {{ relation }}) as row_count,
            (select count(distinct dataset_rows.customer_id) from {{ relation }} as dataset_rows) as entity_count,
            (
                select {{ json_object_agg('split', 'row_count') }}
                from {{ dataset.name }}_splits
            ) as row_counts_by_split,
            {%- if dataset.label %}
                (
                    select {{ json_object_agg('split', 'round(positive_share, 4)') }}
                    from {{ dataset.name }}_splits
                ) as label_balance,
            {%- else %}
                cast(null as {{ dbt.type_string() }}) as label_balance,
            {%- endif %}
            ({{ dataset_fingerprint(relation) }}) as fingerprint
        from knowledge
    ),
{% endfor %}

built as (
    {% for dataset in datasets %}
        select
            dataset_name,
            as_of_date,
            row_count,
            entity_count,
            row_counts_by_split,
            label_balance,
            fingerprint
        from {{ dataset.name }}_built
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
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
    '{{ validated_token(var("git_commit", env_var("WAREHOUSE_GIT_COMMIT", "unknown")), "var 'git_commit'") }}'
        as git_commit,
    '{{ invocation_id }}' as dbt_invocation_id,
    {{ dbt.current_timestamp() }} as built_at
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
