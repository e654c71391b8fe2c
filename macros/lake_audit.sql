{#
    The row accounting of every lake-backed source (docs/reliability.md): for each source
    and ingest date, rows landed = kept + duplicates + corrections + quarantined.

    The staging model of each source keeps its own accounting, in a post-hook that
    dbt_project.yml sets on every staging model (`reconcile_lake_deliveries`): dbt needs a
    model's inputs named before it reads any YAML, so one model over every source would
    have to list them, and a source left off that list would go unaccounted. Each staging
    run rewrites its source's rows of the window in three audit tables, created by
    on-run-start (`create_lake_audit_tables`) and documented as the `lake_audit` source:

    - audit.quarantined_rows: rows that broke a hard rule, or conflicting re-deliveries
      under on_conflict: quarantine, with the reason and the whole raw record;
    - audit.corrected_rows: corrections (the same key with other content), with what was
      done with them (staged as a new version, or set aside) and the raw record;
    - audit.row_count_reconciliation: the counts, each from its own evidence: landed from
      the base_ model (every row of the readable files), kept from the staging table,
      corrections and quarantined rows from the two tables above, duplicates from the
      classification. A gap fails the staging model, naming the source and the days.
#}

{% macro lake_audit_relation(identifier) -%}
    {{ return(api.Relation.create(
        database=target.database, schema=generate_schema_name('audit', none), identifier=identifier
    )) }}
{%- endmacro %}

{% macro lake_audit_tables() -%}
    {{ return({
        'quarantined_rows': [
            ('source_system', dbt.type_string()),
            ('source_name', dbt.type_string()),
            ('ingest_date', 'date'),
            ('source_file', dbt.type_string()),
            ('rejection_reason', dbt.type_string()),
            ('raw_record', dbt.type_string()),
        ],
        'corrected_rows': [
            ('source_system', dbt.type_string()),
            ('source_name', dbt.type_string()),
            ('ingest_date', 'date'),
            ('source_file', dbt.type_string()),
            ('resolution', dbt.type_string()),
            ('raw_record', dbt.type_string()),
        ],
        'row_count_reconciliation': [
            ('source_system', dbt.type_string()),
            ('source_name', dbt.type_string()),
            ('ingest_date', 'date'),
            ('rows_landed', dbt.type_bigint()),
            ('rows_kept', dbt.type_bigint()),
            ('rows_duplicate', dbt.type_bigint()),
            ('rows_corrected', dbt.type_bigint()),
            ('rows_quarantined', dbt.type_bigint()),
            ('unaccounted_rows', dbt.type_bigint()),
        ],
    }) }}
{%- endmacro %}

{#
    on-run-start: the three tables, if absent. A table of another shape (a warehouse built
    before this accounting) is replaced, and the log says to rebuild staging with
    --full-refresh so that it is filled for every day again.
#}
{% macro create_lake_audit_tables() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set schema_relation = lake_audit_relation('x').without_identifier() -%}
    {% do run_query("create schema if not exists " ~ schema_relation) %}
    {%- for identifier, columns in lake_audit_tables().items() -%}
        {%- set relation = lake_audit_relation(identifier) -%}
        {%- set existing = adapter.get_relation(
            database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
        {%- set wanted = columns | map(attribute=0) | list -%}
        {%- if existing is not none -%}
            {%- set found = adapter.get_columns_in_relation(existing) | map(attribute='name') | list -%}
            {%- if found != wanted -%}
                {{ log(relation ~ " has another shape than this version's; replacing it. Rebuild "
                    ~ "staging with --full-refresh to account for every day again.", info=true) }}
                {% do run_query("drop " ~ ('view' if existing.is_view else 'table') ~ " " ~ existing) %}
                {%- set existing = none -%}
            {%- endif -%}
        {%- endif -%}
        {%- if existing is none -%}
            {%- set definitions = [] -%}
            {%- for name, data_type in columns -%}
                {%- do definitions.append(name ~ ' ' ~ data_type) -%}
            {%- endfor -%}
            {% do run_query("create table " ~ relation ~ " (" ~ definitions | join(', ') ~ ")") %}
        {%- endif -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}

{#
    post-hook of every staging model; does nothing on a model that stages no lake source
    (a base_ model, for one). Reconciles the days of the base_ model's window: those the
    model rewrote, and the lookback before them, whose outcome is the same as when staged.
#}
{% macro reconcile_lake_deliveries() -%}
    {%- if not execute or model.resource_type != 'model' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set source = staged_lake_source(model) -%}
    {%- if source is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set base_relation = none -%}
    {%- for parent_id in model.depends_on.nodes if parent_id in graph.nodes -%}
        {%- set parent = graph.nodes[parent_id] -%}
        {%- if parent.resource_type == 'model' and source.unique_id in parent.depends_on.nodes -%}
            {%- set base_relation = api.Relation.create(
                database=parent.database, schema=parent.schema, identifier=parent.alias) -%}
            {%- do run_query(reconciliation_statements(source, base_relation)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set gaps = run_query(
        "select cast(ingest_date as varchar), rows_landed, rows_kept, rows_duplicate, rows_corrected,"
        ~ " rows_quarantined, unaccounted_rows from " ~ lake_audit_relation('row_count_reconciliation')
        ~ " where " ~ source_is(source) ~ " and unaccounted_rows <> 0 order by ingest_date"
    ) -%}
    {%- if gaps.rows | length > 0 -%}
        {%- set lines = [] -%}
        {%- for row in gaps.rows -%}
            {%- do lines.append(row[0] ~ ": landed " ~ row[1] ~ ", kept " ~ row[2] ~ ", duplicates "
                ~ row[3] ~ ", corrections " ~ row[4] ~ ", quarantined " ~ row[5] ~ ", unaccounted " ~ row[6]) -%}
        {%- endfor -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": rows of " ~ source.source_name ~ "." ~ source.name ~ " are unaccounted "
            ~ "(audit.row_count_reconciliation); a row reached neither staging, the duplicates, "
            ~ "audit.corrected_rows nor audit.quarantined_rows:\n  " ~ lines | join("\n  ")) }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{% macro source_is(source) -%}
    source_system = {{ dbt.string_literal(source.source_name) }}
    and source_name = {{ dbt.string_literal(source.name) }}
{%- endmacro %}

{# The statements that rewrite the source's window in the three audit tables. #}
{% macro reconciliation_statements(source, base_relation) -%}
    {%- set start = lake_window_start() -%}
    {%- set window = "ingest_date between cast('" ~ start ~ "' as date) and cast('"
        ~ window_date('max_date') ~ "' as date)" -%}
    {%- set system_and_name = dbt.string_literal(source.source_name) ~ ", " ~ dbt.string_literal(source.name) -%}
    {%- set classified = make_temp_relation(this, '__lake_outcomes') -%}
    create or replace temporary table {{ classified.identifier }} as
    {{ classified_deliveries(base_relation, source, start, this) }};

    delete from {{ lake_audit_relation('quarantined_rows') }}
    where {{ source_is(source) }} and {{ window }};
    insert into {{ lake_audit_relation('quarantined_rows') }}
    select {{ system_and_name }}, _ingest_date, _source_file, _rejection_reason, _raw_record
    from {{ classified.identifier }}
    where _delivery_outcome in ('rejected', 'conflicting_redelivery');

    delete from {{ lake_audit_relation('corrected_rows') }}
    where {{ source_is(source) }} and {{ window }};
    insert into {{ lake_audit_relation('corrected_rows') }}
    select
        {{ system_and_name }},
        _ingest_date,
        _source_file,
        case _delivery_outcome
            when 'correction_staged' then 'staged_as_new_version'
            else 'set_aside_first_delivery_kept'
        end,
        _raw_record
    from {{ classified.identifier }}
    where _delivery_outcome in ('correction_staged', 'correction_set_aside');

    delete from {{ lake_audit_relation('row_count_reconciliation') }}
    where {{ source_is(source) }} and {{ window }};
    insert into {{ lake_audit_relation('row_count_reconciliation') }}
    with

    landed as (
        select _ingest_date as ingest_date, count(*) as rows_landed
        from {{ base_relation }}
        where {{ incremental_window('_ingest_date', start=start) }}
        group by _ingest_date
    ),

    staged as (
        select _ingest_date as ingest_date, count(*) as rows_staged
        from {{ this }}
        where {{ incremental_window('_ingest_date', start=start) }}
        group by _ingest_date
    ),

    duplicates as (
        select _ingest_date as ingest_date, count(*) as rows_duplicate
        from {{ classified.identifier }}
        where _delivery_outcome = 'duplicate'
        group by _ingest_date
    ),

    corrections as (
        select
            ingest_date,
            count(*) as rows_corrected,
            count(case when resolution = 'staged_as_new_version' then 1 end) as corrections_staged
        from {{ lake_audit_relation('corrected_rows') }}
        where {{ source_is(source) }} and {{ window }}
        group by ingest_date
    ),

    quarantined as (
        select ingest_date, count(*) as rows_quarantined
        from {{ lake_audit_relation('quarantined_rows') }}
        where {{ source_is(source) }} and {{ window }}
        group by ingest_date
    ),

    counts as (
        select
            landed.ingest_date,
            landed.rows_landed,
            coalesce(staged.rows_staged, 0) - coalesce(corrections.corrections_staged, 0) as rows_kept,
            coalesce(duplicates.rows_duplicate, 0) as rows_duplicate,
            coalesce(corrections.rows_corrected, 0) as rows_corrected,
            coalesce(quarantined.rows_quarantined, 0) as rows_quarantined
        from landed
        left join staged on landed.ingest_date = staged.ingest_date
        left join duplicates on landed.ingest_date = duplicates.ingest_date
        left join corrections on landed.ingest_date = corrections.ingest_date
        left join quarantined on landed.ingest_date = quarantined.ingest_date
    )

    select
        {{ system_and_name }},
        ingest_date,
        rows_landed,
        rows_kept,
        rows_duplicate,
        rows_corrected,
        rows_quarantined,
        rows_landed - rows_kept - rows_duplicate - rows_corrected - rows_quarantined
    from counts;

    drop table {{ classified.identifier }}
{%- endmacro %}
