{#
    From landed rows to staged records (docs/reliability.md, "Deliveries"). Every clean row
    a base_ model read in the window gets one outcome, from its source's contract
    (meta.lake, macros/lake_sources.sql):

    - kept: the first delivery of its record key;
    - duplicate: the same content as the version it would follow (an exact re-delivery);
    - correction_staged (on_conflict: latest): other content under the same key; staged as
      a new version, known from the day it landed, so history models see both;
    - correction_set_aside (on_conflict: first): other content; the first delivery stays;
    - conflicting_redelivery (on_conflict: quarantine, the default): other content;
      quarantined, so nothing changes without someone looking;
    - rejected: the row broke a hard rule of its base_ model, or its file holds two
      versions of one key (ambiguous_versions_in_one_file: no order tells which is later).

    A delivery follows those of earlier ingest dates, then of earlier file names. The
    outcome depends only on what landed on or before the row's day, so a backfill, daily
    runs and a full refresh stage the same rows.
#}

{# A fingerprint of a record's content: equal for equal values, whatever the delivery. #}
{% macro lake_record_hash(columns) -%}
    {{ return(adapter.dispatch('lake_record_hash', 'ml_warehouse')(columns)) }}
{%- endmacro %}

{% macro duckdb__lake_record_hash(columns) -%}
    md5(cast(to_json(struct_pack(
        {%- for column in columns %}
            {{ adapter.quote(column) }} := {{ adapter.quote(column) }}{{ "," if not loop.last }}
        {%- endfor %}
    )) as varchar))
{%- endmacro %}

{% macro default__lake_record_hash(columns) -%}
    {{ exceptions.raise_compiler_error(
        "lake_record_hash has no implementation for adapter '" ~ adapter.type() ~ "': add "
        ~ adapter.type() ~ "__lake_record_hash in macros/lake_deliveries.sql (e.g. sha2(to_json(struct(...)), 256) on Spark)"
    ) }}
{%- endmacro %}

{#
    The lake source a staging model stages: the source read by its base_ parent. None for a
    model that reads a source itself (a base_ model) or none at all.
#}
{% macro staged_lake_source(node) -%}
    {%- for parent_id in node.depends_on.nodes
        if parent_id in graph.sources and 'lake' in graph.sources[parent_id].meta -%}
        {{ return(none) }}
    {%- endfor -%}
    {{ return(lake_source_of_model(node)) }}
{%- endmacro %}

{#
    The outcome of every row of `base_relation` landed from `window_start` to the window's
    end (see above), one row each, identified by _source_file and _source_row: its record
    key, _ingest_date, _record_hash, _rejection_reason and _delivery_outcome. Only these
    narrow columns go through the sorts; a caller joins the landed row back by its identity
    where it needs its values. `staged_relation` is the staging model's table (or none): its
    rows of earlier ingest dates are the versions already staged.
#}
{% macro delivery_outcomes(base_relation, source, window_start, staged_relation) -%}
    {%- set contract = lake_contract(source) -%}
    {%- set key = lake_record_key(source) -%}
    {%- set base_columns = adapter.get_columns_in_relation(base_relation) -%}
    {%- set content = [] -%}
    {%- for column in base_columns if not column.name.startswith('_') -%}
        {%- do content.append(column.name) -%}
    {%- endfor -%}
    {%- set base_column_names = base_columns | map(attribute='name') | list -%}
    {%- set missing_key = key | reject('in', base_column_names) | list -%}
    {%- if missing_key -%}
        {{ exceptions.raise_compiler_error(
            source.original_file_path ~ ": meta.lake.natural_key of " ~ source.source_name ~ "."
            ~ source.name ~ " names " ~ missing_key | join(', ') ~ ", which "
            ~ base_relation.identifier ~ " does not have") }}
    {%- endif -%}
    {%- set bookkeeping = ['_ingest_date', '_source_file', '_source_row', '_rejection_reason'] -%}
    {%- set missing_bookkeeping = bookkeeping | reject('in', base_column_names) | list -%}
    {%- if missing_bookkeeping -%}
        {{ exceptions.raise_compiler_error(
            base_relation.identifier ~ " lacks the bookkeeping column(s) " ~ missing_bookkeeping | join(', ')
            ~ " that staging needs to account for each landed row: select ingest_date as _ingest_date, "
            ~ "filename as _source_file and file_row_number as _source_row from readable_lake_files, "
            ~ "and the first_failed_rule as _rejection_reason (docs/add-a-source.md)") }}
    {%- endif -%}
    with

    deliveries as (
        select
            {{ key_columns_of('landed', key) }},
            landed._ingest_date,
            landed._source_file,
            landed._source_row,
            {{ lake_record_hash(content) }} as _record_hash,
            landed._rejection_reason
        from {{ base_relation }} as landed
        where {{ incremental_window('_ingest_date', start=window_start) }}
    ),

    {#- A clean row whose file holds another version of its key cannot be ordered against
        it: both are rejected. #}
    checked as (
        select
            {{ key | join(', ') }},
            _ingest_date,
            _source_file,
            _source_row,
            _record_hash,
            coalesce(
                _rejection_reason,
                case
                    when min(_record_hash) over versions_in_file <> max(_record_hash) over versions_in_file
                        then 'ambiguous_versions_in_one_file'
                end
            ) as _rejection_reason
        from deliveries
        window versions_in_file as (
            partition by {{ key | join(', ') }}, _source_file, _rejection_reason is null
        )
    ),

    {#- The versions staged from earlier ingest dates: per record key, the first and the
        last, in delivery order. #}
    staged_before as (
        {%- if staged_relation is not none %}
            select
                {{ key | join(', ') }},
                max(case when delivery_rank = 1 then _record_hash end) as first_staged_hash,
                max(case when delivery_rank_desc = 1 then _record_hash end) as last_staged_hash
            from (
                select
                    {{ key_columns_of('staged', key) }},
                    staged._record_hash,
                    row_number() over (
                        partition by {{ key_columns_of('staged', key) }}
                        order by staged._ingest_date, staged._source_file, staged._record_hash
                    ) as delivery_rank,
                    row_number() over (
                        partition by {{ key_columns_of('staged', key) }}
                        order by
                            staged._ingest_date desc,
                            staged._source_file desc,
                            staged._record_hash desc
                    ) as delivery_rank_desc
                from {{ staged_relation }} as staged
                {#- only the keys delivered again in the window #}
                inner join (select distinct {{ key | join(', ') }} from deliveries) as window_keys
                    on {{ key_columns_match('staged', 'window_keys', key) }}
                where staged._ingest_date < cast('{{ window_start }}' as date)
            ) as staged_versions
            group by {{ key | join(', ') }}
        {%- else %}
            select
                {%- for column in base_columns if column.name in key %}
                    cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }},
                {%- endfor %}
                cast(null as {{ dbt.type_string() }}) as first_staged_hash,
                cast(null as {{ dbt.type_string() }}) as last_staged_hash
            where false
        {%- endif %}
    ),

    {#- Rejected rows are ordered apart (their own partition), so that they never count
        as an earlier delivery of a clean one. #}
    ordered as (
        select
            checked.*,
            staged_before.first_staged_hash,
            staged_before.last_staged_hash,
            row_number() over delivery_order as _delivery_position,
            lag(checked._record_hash) over delivery_order as _previous_hash,
            first_value(checked._record_hash) over delivery_order as _first_hash
        from checked
        left join staged_before
            on {{ key_columns_match('checked', 'staged_before', key) }}
        window delivery_order as (
            partition by {{ key_columns_of('checked', key) }}, checked._rejection_reason is null
            order by checked._ingest_date, checked._source_file, checked._source_row
        )
    ),

    outcomes as (
        select
            ordered.*,
            case
                when _rejection_reason is not null then 'rejected'
                when _delivery_position = 1 and first_staged_hash is null then 'kept'
                {%- if contract.on_conflict == 'latest' %}
                    when _record_hash = coalesce(_previous_hash, last_staged_hash) then 'duplicate'
                    else 'correction_staged'
                {%- elif contract.on_conflict == 'first' %}
                    when _record_hash = coalesce(first_staged_hash, _first_hash) then 'duplicate'
                    else 'correction_set_aside'
                {%- else %}
                    when _record_hash = coalesce(first_staged_hash, _first_hash) then 'duplicate'
                    else 'conflicting_redelivery'
                {%- endif %}
            end as _delivery_outcome
        from ordered
    )

    select
        {{ key | join(', ') }},
        _ingest_date,
        _source_file,
        _source_row,
        _record_hash,
        case
            when _delivery_outcome = 'conflicting_redelivery' then 'conflicting_redelivery'
            else _rejection_reason
        end as _rejection_reason,
        _delivery_outcome
    from outcomes
{%- endmacro %}

{#
    The rows a staging model stages in this run: kept records and, under on_conflict:
    latest, corrections; every column of the base_ model, with its _record_hash and
    _delivery_outcome. Returns a subquery.
#}
{% macro staged_deliveries(base_relation) -%}
    {%- if not execute or load_relation(base_relation) is none -%}
        {#- Parsing, or compiling before the first build (linting, docs): the base_ model is
            built before this one in every run, so only SQL that is never run lands here. -#}
        {{ return('(select * from ' ~ base_relation ~ ')') }}
    {%- endif -%}
    {%- set source = staged_lake_source(model) -%}
    {%- if source is none -%}
        {{ exceptions.raise_compiler_error(
            model.original_file_path ~ ": staged_deliveries stages the base_ model of a lake "
            ~ "source; " ~ model.name ~ " reads none (docs/add-a-source.md)") }}
    {%- endif -%}
    {%- set staged = this if is_incremental() else none -%}
    {%- set window_start = staging_window_start(source) -%}
    (
        select
            landed.*,
            outcomes._record_hash,
            outcomes._delivery_outcome
        from {{ base_relation }} as landed
        inner join (
            select _source_file, _source_row, _record_hash, _delivery_outcome
            from ({{ delivery_outcomes(base_relation, source, window_start, staged) }}) as classified
            where _delivery_outcome in ('kept', 'correction_staged')
        ) as outcomes
            on
                landed._source_file = outcomes._source_file
                and landed._source_row = outcomes._source_row
        where {{ incremental_window('landed._ingest_date', start=window_start) }}
    )
{%- endmacro %}
