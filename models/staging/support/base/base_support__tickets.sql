{#-
    Every landed ticket version, typed and checked against the hard rules: a version needs
    its key, a first response no earlier than the ticket's creation, a satisfaction score
    on the survey's scale (1 to 5), and a change time no later than the day after it landed.
-#}
with

landed as (
    select * from {{ readable_lake_files(source('support', 'tickets')) }}
    where {{ ingest_window('ingest_date') }}
),

typed as (
    select
        cast(ticket_id as {{ dbt.type_string() }}) as ticket_id,
        cast(customer_email as {{ dbt.type_string() }}) as customer_email,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(category as {{ dbt.type_string() }}) as category,
        cast(subject as {{ dbt.type_string() }}) as subject,
        {{ utc_timestamp('created_at') }} as created_at,
        {{ utc_timestamp('first_response_at') }} as first_response_at,
        {{ utc_timestamp('resolved_at') }} as resolved_at,
        cast(satisfaction_score as {{ dbt.type_bigint() }}) as satisfaction_score,
        cast(status as {{ dbt.type_string() }}) as status,
        {{ utc_timestamp('updated_at') }} as updated_at,
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
                ('created_at', 'typed.created_at'),
                ('first_response_at', 'typed.first_response_at'),
                ('resolved_at', 'typed.resolved_at'),
                ('updated_at', 'typed.updated_at'),
            ], 'typed._raw_record')),
            ('null_key', 'typed.ticket_id is null or typed.updated_at is null'),
            ('oversized_record', oversized_record('typed._raw_record')),
            ('response_before_creation', 'typed.first_response_at < typed.created_at'),
            ('score_out_of_range', 'typed.satisfaction_score not between 1 and 5'),
            ('future_timestamp',
                'typed.updated_at > ' ~ dbt.dateadd('day', 1, 'cast(typed._ingest_date as ' ~ dbt.type_timestamp() ~ ')')),
        ]) }} as _rejection_reason
    from typed
)

select * from checked
