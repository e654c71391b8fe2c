{#
    A landed timestamp as the UTC instant it stands for, typed dbt.type_timestamp() (without
    time zone: the warehouse's timestamps are all UTC), whatever its physical type in the
    file. Feeds send instants several ways, and a plain cast reads some at the wrong one:
    - TIMESTAMP WITH TIME ZONE: its instant.
    - text with a UTC offset, Z or a zone name ('2026-12-07T15:30:00+05:30'): the instant
      it names (10:00 UTC), never the wall-clock time before the offset.
    - text without an offset, and TIMESTAMP without time zone: taken as UTC, the lake's
      convention (docs/sample_lake.md); the session's time zone plays no part.
    - TIMESTAMP_NS, or text with more than six decimals: cut to microseconds, the
      warehouse's precision (docs/reliability.md).
    Text that is no timestamp gives null: a base_ model quarantines the row as
    unparseable_value with unparseable_timestamps below, rather than failing the build.
#}
{% macro utc_timestamp(column) -%}
    {{ return(adapter.dispatch('utc_timestamp', 'ml_warehouse')(column)) }}
{%- endmacro %}

{#
    Which branch applies is decided by the column's type, the same for every row of a view
    (typeof); each branch is valid SQL for every type, and only the matching one runs.
#}
{% macro duckdb__utc_timestamp(column) -%}
    case typeof({{ column }})
        when 'TIMESTAMP WITH TIME ZONE' then timezone('UTC', try_cast({{ column }} as timestamptz))
        when 'VARCHAR' then {{ ml_warehouse.duckdb__utc_timestamp_from_text('cast(' ~ column ~ ' as varchar)') }}
        else try_cast({{ column }} as timestamp)
    end
{%- endmacro %}

{#
    Text that names its zone after a time of day (Z, UTC, +05:30, -0800, +01:00:00, a space
    before any of them, or a zone name such as Europe/Paris) is parsed as that instant;
    anything else as a UTC wall-clock time. A zone DuckDB cannot read (+1) gives null, so
    the row is quarantined rather than read at the wrong instant, as a plain cast to
    timestamp would (it drops the offset). The time of day is required before the zone,
    so the day of a bare date ('2026-12-07') is not read as an offset of -07.
#}
{% macro duckdb__utc_timestamp_from_text(text) -%}
    case
        when regexp_matches(
            {{ text }},
            '(?i)[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]*)?)?\s*(z|utc|gmt|[+-][0-9]{1,2}(:?[0-9]{2}){0,2}|[a-z]+/[a-z_/+-]+)$'
        )
            then timezone('UTC', try_cast(regexp_replace({{ text }}, '\s+([+-][0-9]|[zZ]$)', '\1') as timestamptz))
        else try_cast({{ text }} as timestamp)
    end
{%- endmacro %}

{% macro default__utc_timestamp(column) -%}
    {{ exceptions.raise_compiler_error(
        "utc_timestamp has no implementation for adapter '" ~ adapter.type() ~ "': add "
        ~ adapter.type() ~ "__utc_timestamp in macros/utc_timestamp.sql, converting a "
        ~ "timestamp with time zone or text with a UTC offset to its UTC instant and taking "
        ~ "naive values as UTC."
    ) }}
{%- endmacro %}

{#
    Rule unparseable_value for timestamps: a landed value that utc_timestamp could not read.
    `columns` lists (landed column, typed expression) pairs; the landed value comes from the
    row's raw record, so the rule needs no extra column in the model.
#}
{% macro unparseable_timestamps(columns, raw_record_column) -%}
    {{ return(adapter.dispatch('unparseable_timestamps', 'ml_warehouse')(columns, raw_record_column)) }}
{%- endmacro %}

{% macro duckdb__unparseable_timestamps(columns, raw_record_column) -%}
    {%- for landed, typed in columns -%}
        {{ ' or ' if not loop.first }}({{ typed }} is null and json_extract_string({{ raw_record_column }}, '$."{{ landed }}"') is not null)
    {%- endfor -%}
{%- endmacro %}

{% macro default__unparseable_timestamps(columns, raw_record_column) -%}
    {{ exceptions.raise_compiler_error(
        "unparseable_timestamps has no implementation for adapter '" ~ adapter.type() ~ "': add "
        ~ adapter.type() ~ "__unparseable_timestamps in macros/utc_timestamp.sql (a landed "
        ~ "value present in the raw record whose typed timestamp is null)."
    ) }}
{%- endmacro %}
