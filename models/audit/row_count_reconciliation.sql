{#-
    For every source and ingest date: rows landed = rows kept + duplicates removed + rows
    quarantined. Each term is counted on its own evidence: landed from the raw files
    (the readable ones: unreadable files are counted by file_reconciliation), kept
    from staging, quarantined from quarantined_rows, and a duplicate is a clean row whose
    natural key staging holds from another delivery. A clean row that reached neither
    staging nor the quarantine therefore shows up as unaccounted_rows, which a test keeps
    at zero.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['source_name', 'ingest_date'],
) }}

{%- set natural_keys = shop_natural_keys() %}
{%- set window_start = incremental_window_start('ingest_date') %}

with

{% for source_name, key_columns in natural_keys.items() %}
    {{ source_name }}_landed as (
        select
            '{{ source_name }}' as source_name,
            ingest_date,
            count(*) as rows_landed
        from {{ readable_lake_files(source('shop', source_name)) }}
        where {{ incremental_window('ingest_date', start=window_start) }}
        group by ingest_date
    ),

    {{ source_name }}_kept as (
        select
            '{{ source_name }}' as source_name,
            _ingest_date as ingest_date,
            count(*) as rows_kept
        from {{ ref('stg_shop__' ~ source_name) }}
        where {{ incremental_window('_ingest_date', start=window_start) }}
        group by _ingest_date
    ),

    {{ source_name }}_clean_deliveries as (
        select
            {{ key_columns | join(', ') }},
            _ingest_date,
            _source_file,
            count(*) as copies
        from {{ ref('base_shop__' ~ source_name) }}
        where
            _rejection_reason is null
            and {{ incremental_window('_ingest_date', start=window_start) }}
        group by {{ key_columns | join(', ') }}, _ingest_date, _source_file
    ),

    {{ source_name }}_duplicates as (
        select
            '{{ source_name }}' as source_name,
            deliveries._ingest_date as ingest_date,
            -- a count, and typed as one, not as the 128-bit integer DuckDB sums into
            cast(sum(
                deliveries.copies
                - case
                    when
                        kept._ingest_date = deliveries._ingest_date
                        and kept._source_file = deliveries._source_file
                        then 1
                    else 0
                end
            ) as {{ dbt.type_bigint() }}) as rows_duplicate
        from {{ source_name }}_clean_deliveries as deliveries
        inner join {{ ref('stg_shop__' ~ source_name) }} as kept
            on {{ key_columns_match('deliveries', 'kept', key_columns) }}
        group by deliveries._ingest_date
    ),

{% endfor %}

landed as (
    {% for source_name in natural_keys %}
        select
            source_name,
            ingest_date,
            rows_landed
        from {{ source_name }}_landed
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

kept as (
    {% for source_name in natural_keys %}
        select
            source_name,
            ingest_date,
            rows_kept
        from {{ source_name }}_kept
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

duplicates as (
    {% for source_name in natural_keys %}
        select
            source_name,
            ingest_date,
            rows_duplicate
        from {{ source_name }}_duplicates
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

quarantined as (
    select
        source_name,
        ingest_date,
        count(*) as rows_quarantined
    from {{ ref('quarantined_rows') }}
    where {{ incremental_window('ingest_date', start=window_start) }}
    group by source_name, ingest_date
)

select
    landed.source_name,
    landed.ingest_date,
    landed.rows_landed,
    coalesce(kept.rows_kept, 0) as rows_kept,
    coalesce(duplicates.rows_duplicate, 0) as rows_duplicate,
    coalesce(quarantined.rows_quarantined, 0) as rows_quarantined,
    landed.rows_landed
    - coalesce(kept.rows_kept, 0)
    - coalesce(duplicates.rows_duplicate, 0)
    - coalesce(quarantined.rows_quarantined, 0) as unaccounted_rows
from landed
left join kept
    on
        landed.source_name = kept.source_name
        and landed.ingest_date = kept.ingest_date
left join duplicates
    on
        landed.source_name = duplicates.source_name
        and landed.ingest_date = duplicates.ingest_date
left join quarantined
    on
        landed.source_name = quarantined.source_name
        and landed.ingest_date = quarantined.ingest_date
