{#-
    Every landed customers row, typed, with the first hard rule it breaks. Staging keeps
    the clean first deliveries; the audit layer keeps the rejected rows.
-#}
{{ config(materialized='view') }}

with

landed as (
    select * from {{ readable_lake_files(source('shop', 'customers')) }}
    where {{ ingest_window('ingest_date') }}
),

typed as (
    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(phone as {{ dbt.type_string() }}) as phone,
        cast(birth_date as date) as birth_date,
        cast(country_code as {{ dbt.type_string() }}) as country_code,
        cast(city as {{ dbt.type_string() }}) as city,
        cast(postal_code as {{ dbt.type_string() }}) as postal_code,
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(marketing_opt_in as {{ dbt.type_boolean() }}) as is_marketing_opt_in,
        cast(preferred_language as {{ dbt.type_string() }}) as preferred_language,
        {{ utc_timestamp('created_at') }} as created_at,
        {{ utc_timestamp('updated_at') }} as updated_at,
        coalesce(cast(is_deleted as {{ dbt.type_boolean() }}), false) as is_deleted,
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
                ('created_at', 'created_at'),
                ('updated_at', 'updated_at'),
            ], '_raw_record')),
            ('null_key', 'customer_id is null or updated_at is null'),
            ('oversized_record', oversized_record('_raw_record')),
            ('future_timestamp',
                'updated_at > ' ~ dbt.dateadd('day', 1, 'cast(_ingest_date as ' ~ dbt.type_timestamp() ~ ')')),
        ]) }} as _rejection_reason
    from typed
)

select * from checked
