{#-
    For every source and ingest date: rows landed = rows kept + duplicates removed + rows
    quarantined. Each term is counted from the relation that holds those rows (the raw
    files, staging, the duplicate deliveries, the quarantine), so a row lost anywhere in
    between shows up as a non-zero unaccounted_rows.
-#}
{%- set sources = ['customers', 'products', 'orders', 'order_items', 'events'] %}

with

{% for source_name in sources %}
    {{ source_name }}_landed as (
        select
            '{{ source_name }}' as source_name,
            ingest_date,
            count(*) as rows_landed
        from {{ source('shop', source_name) }}
        where {{ ingest_window('ingest_date') }}
        group by ingest_date
    ),

    {{ source_name }}_kept as (
        select
            '{{ source_name }}' as source_name,
            _ingest_date as ingest_date,
            count(*) as rows_kept
        from {{ ref('stg_shop__' ~ source_name) }}
        group by _ingest_date
    ),

    {{ source_name }}_duplicates as (
        select
            '{{ source_name }}' as source_name,
            _ingest_date as ingest_date,
            count(*) as rows_duplicate
        from {{ ref('base_shop__' ~ source_name) }}
        where _delivery_number > 1
        group by _ingest_date
    ),

{% endfor %}

landed as (
    {% for source_name in sources %}
        select
            source_name,
            ingest_date,
            rows_landed
        from {{ source_name }}_landed
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

kept as (
    {% for source_name in sources %}
        select
            source_name,
            ingest_date,
            rows_kept
        from {{ source_name }}_kept
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

duplicates as (
    {% for source_name in sources %}
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
    on landed.source_name = kept.source_name and landed.ingest_date = kept.ingest_date
left join duplicates
    on landed.source_name = duplicates.source_name and landed.ingest_date = duplicates.ingest_date
left join quarantined
    on landed.source_name = quarantined.source_name and landed.ingest_date = quarantined.ingest_date
