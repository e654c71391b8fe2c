{#-
    Every landed order line, typed and checked. `quantity` is cast with safe_cast because one
    day's file delivered it as text: values that do not parse are quarantined as
    unparseable_value rather than failing the build or turning into silent nulls.
-#}
{{ config(materialized='view') }}

with

landed as (
    select * from {{ readable_lake_files(source('shop', 'order_items')) }}
    where {{ ingest_window('ingest_date') }}
),

typed as (
    select
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(line_number as {{ dbt.type_int() }}) as line_number,
        cast(product_id as {{ dbt.type_string() }}) as product_id,
        {{ dbt.safe_cast('quantity', dbt.type_bigint()) }} as quantity,
        cast(unit_price as decimal(12, 2)) as unit_price,
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
            ('null_key', 'order_id is null or line_number is null or product_id is null'),
            ('oversized_record', oversized_record('_raw_record')),
            ('unparseable_value', 'quantity is null or unit_price is null'),
            ('negative_quantity', 'quantity < 0'),
        ]) }} as _rejection_reason
    from typed
)

select * from checked
