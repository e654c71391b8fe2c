{#-
    Every landed order status record, typed and checked against the hard rules: a status
    record needs its keys, a currency we can convert, and a status time no later than the
    day after it landed.
-#}
{{ config(materialized='view') }}

with

landed as (
    select * from {{ readable_lake_files(source('shop', 'orders')) }}
    where {{ ingest_window('ingest_date') }}
),

known_currencies as (
    select currency_code from {{ ref('currencies') }}
),

typed as (
    select
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(status as {{ dbt.type_string() }}) as status,
        {{ utc_timestamp('placed_at') }} as placed_at,
        {{ utc_timestamp('status_at') }} as status_at,
        cast(channel as {{ dbt.type_string() }}) as channel,
        upper(cast(currency as {{ dbt.type_string() }})) as currency_code,
        cast(shipping_country_code as {{ dbt.type_string() }}) as shipping_country_code,
        ingest_date as _ingest_date,
        filename as _source_file,
        file_row_number as _source_row,
        {{ record_to_json('landed') }} as _raw_record
    from landed
),

checked as (
    select
        typed.*,
        {{ first_failed_rule([
            ('unparseable_value', unparseable_timestamps([
                ('placed_at', 'typed.placed_at'),
                ('status_at', 'typed.status_at'),
            ], 'typed._raw_record')),
            ('null_key', 'typed.order_id is null or typed.customer_id is null or typed.status is null'),
            ('oversized_record', oversized_record('typed._raw_record')),
            ('unknown_currency', 'known_currencies.currency_code is null'),
            ('future_timestamp',
                'typed.status_at > ' ~ dbt.dateadd('day', 1, 'cast(typed._ingest_date as ' ~ dbt.type_timestamp() ~ ')')),
        ]) }} as _rejection_reason
    from typed
    left join known_currencies
        on typed.currency_code = known_currencies.currency_code
)

select * from checked
