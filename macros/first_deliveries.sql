{#
    The clean rows of a base_ model in this run's ingest window, one per natural key: the
    first delivery wins (earliest ingest date, then file name). On incremental runs a key
    already loaded from an earlier ingest date is a re-delivery and is left out, so the
    result is the same whether history was built in one run or day by day.
    Returns a subquery; the bookkeeping column _delivery_number is always 1.
#}
{% macro first_deliveries(base_relation, key_columns) -%}
    {%- set window_start = incremental_window_start() %}
    (
        select ranked.*
        from (
            select
                checked.*,
                row_number() over (
                    partition by {{ key_columns | join(', ') }}
                    order by _ingest_date, _source_file
                ) as _delivery_number
            from {{ base_relation }} as checked
            where
                _rejection_reason is null
                and {{ incremental_window('_ingest_date', start=window_start) }}
                {%- if is_incremental() %}
                and not exists (
                    select 1
                    from {{ this }} as loaded
                    where
                        loaded._ingest_date < cast('{{ window_start }}' as date)
                        and {{ key_columns_match('loaded', 'checked', key_columns) }}
                )
                {%- endif %}
        ) as ranked
        where ranked._delivery_number = 1
    )
{%- endmacro %}
