{#-
    Every landed row that broke a hard rule, with the rule, where it came from and all its
    raw values. Nothing is dropped silently: a row is either in staging, counted as a
    duplicate, or here. Rewritten ingest date by ingest date, like staging.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['source_name', 'ingest_date'],
) }}

{%- set sources = shop_natural_keys().keys() | list %}
{%- set window_start = incremental_window_start('ingest_date') %}

with

{% for source_name in sources %}
    {{ source_name }}_rejected as (
        select
            '{{ source_name }}' as source_name,
            _ingest_date as ingest_date,
            _source_file as source_file,
            _rejection_reason as rejection_reason,
            _raw_record as raw_record
        from {{ ref('base_shop__' ~ source_name) }}
        where
            _rejection_reason is not null
            and {{ incremental_window('_ingest_date', start=window_start) }}
    ){{ "," if not loop.last }}
{% endfor %}

{% for source_name in sources %}
    select
        source_name,
        ingest_date,
        source_file,
        rejection_reason,
        raw_record
    from {{ source_name }}_rejected
    {% if not loop.last %}union all{% endif %}
{% endfor %}
