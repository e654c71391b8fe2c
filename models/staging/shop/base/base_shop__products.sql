{#-
    Every landed row of the daily catalogue dumps, typed and checked. A dump is the state of
    the catalogue that day, so the same product on two days is two observations, not a
    duplicate; only a repeat within one day's dump is.
-#}
{{ config(materialized='view') }}

with

landed as (
    select * from {{ readable_lake_files(source('shop', 'products')) }}
    where {{ ingest_window('ingest_date') }}
),

typed as (
    select
        cast(product_id as {{ dbt.type_string() }}) as product_id,
        cast(product_name as {{ dbt.type_string() }}) as product_name,
        cast(category as {{ dbt.type_string() }}) as raw_category,
        cast(list_price as decimal(12, 2)) as list_price_eur,
        cast(is_active as {{ dbt.type_boolean() }}) as is_active,
        {{ utc_timestamp('updated_at') }} as extracted_at,
        ingest_date as _ingest_date,
        filename as _source_file,
        file_row_number as _source_row,
        {{ record_to_json('landed') }} as _raw_record
    from landed
),

checked as (
    select
        *,
        {{ first_failed_rule([
            ('unparseable_value', unparseable_timestamps([
                ('updated_at', 'extracted_at'),
            ], '_raw_record')),
            ('null_key', 'product_id is null'),
            ('oversized_record', oversized_record('_raw_record')),
            ('negative_price', 'list_price_eur < 0'),
        ]) }} as _rejection_reason
    from typed
)

select * from checked
