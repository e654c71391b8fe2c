{#-
    Every landed clickstream event, typed and checked. Late events (event_at days before the
    partition) are normal and kept; an event_at after the day following its landing, or
    before the business existed, is a device clock error and is quarantined.
-#}
{{ config(materialized='view') }}

with

landed as (
    select * from {{ readable_lake_files(source('shop', 'events')) }}
    where {{ ingest_window('ingest_date') }}
),

typed as (
    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(session_id as {{ dbt.type_string() }}) as session_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(anonymous_id as {{ dbt.type_string() }}) as anonymous_id,
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        {{ utc_timestamp('event_at') }} as event_at,
        cast(page_url as {{ dbt.type_string() }}) as page_url,
        cast(search_query as {{ dbt.type_string() }}) as search_query,
        cast(product_id as {{ dbt.type_string() }}) as product_id,
        cast(device as {{ dbt.type_string() }}) as device,
        cast(ip_address as {{ dbt.type_string() }}) as ip_address,
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
                ('event_at', 'event_at'),
            ], '_raw_record')),
            ('null_key', 'event_id is null or session_id is null or event_at is null'),
            ('oversized_record', oversized_record('_raw_record')),
            ('future_timestamp',
                'event_at > ' ~ dbt.dateadd('day', 1, 'cast(_ingest_date as ' ~ dbt.type_timestamp() ~ ')')),
            ('timestamp_before_business_start',
                "event_at < cast('" ~ validated_date_var('business_start_date') ~ "' as " ~ dbt.type_timestamp() ~ ")"),
        ]) }} as _rejection_reason
    from typed
)

select * from checked
