{#
    The row accounting of every lake-backed source (docs/reliability.md): for each source
    and ingest date, rows landed = kept + duplicates + corrections + quarantined.

    The staging model of each source keeps its own accounting, in a post-hook that
    dbt_project.yml sets on every staging model (`reconcile_lake_deliveries`): dbt needs a
    model's inputs named before it reads any YAML, so one model over every source would
    have to list them, and a source left off that list would go unaccounted. A pre-hook
    (`open_lake_accounting`) deletes the accounting of the days the model rewrites; the
    post-hook writes every day of the window that has none, in three audit tables created
    by on-run-start (`create_lake_audit_tables`) and documented as the `lake_audit` source:

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
            ('files_accounted', dbt.type_bigint()),
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
    The base_ model a staging model stages from (the parent that reads its lake source).
#}
{% macro staged_base_relation(source) -%}
    {%- for parent_id in model.depends_on.nodes if parent_id in graph.nodes -%}
        {%- set parent = graph.nodes[parent_id] -%}
        {%- if parent.resource_type == 'model' and source.unique_id in parent.depends_on.nodes -%}
            {{ return(api.Relation.create(
                database=parent.database, schema=parent.schema, identifier=parent.alias)) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}

{#
    The landed days of `source` up to max_date (from `since`, when given) whose rows are not
    accounted for: a day with a readable file and no accounting, or with more readable files
    than its accounting covered (a file that landed late into a day already staged, or a
    quarantined file fixed since). A file rewritten under its own name (an erasure, a
    re-delivery) is not counted again: a run whose window covers its day re-reads it
    (windowed_rewrite_start), and erasure adjusts the accounting itself. Returns a query of
    one column, ingest_date.
#}
{% macro unaccounted_lake_days(source, since=none) -%}
    select inventory.ingest_date
    from {{ existing_audit_relation('lake_file_inventory') }} as inventory
    left join {{ lake_audit_relation('row_count_reconciliation') }} as accounted
        on
            {{ source_is(source, 'accounted') }}
            and inventory.ingest_date = accounted.ingest_date
    where
        {{ source_is(source, 'inventory') }}
        and inventory.status = 'readable'
        and inventory.ingest_date <= cast('{{ window_date("max_date") }}' as date)
        {%- if since is not none %}
            and inventory.ingest_date >= cast('{{ since }}' as date)
        {%- endif %}
    group by inventory.ingest_date
    having
        max(accounted.files_accounted) is null
        or count(*) > max(accounted.files_accounted)
{%- endmacro %}

{# The first day of the lake window whose rows are not accounted for, or none. #}
{% macro first_unaccounted_lake_day(source) -%}
    {{ return(run_query(
        "select cast(min(ingest_date) as varchar) from ("
        ~ unaccounted_lake_days(source, since=lake_window_start()) ~ ") as days"
    ).columns[0].values()[0]) }}
{%- endmacro %}

{#
    The lake source the model a hook runs on stages, or none: while parsing, on anything
    but a model, and on a model that stages no lake source (a base_ model, for one).
#}
{% macro hooked_lake_source() -%}
    {%- if not execute or model.resource_type != 'model' -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(staged_lake_source(model)) }}
{%- endmacro %}

{#
    The first ingest date a staging model rewrites: its incremental_window_start(), or an
    earlier day of the lake window whose rows are not accounted for, so that no landed
    day is skipped whatever the run's window or the newest day already staged.
#}
{% macro staging_window_start(source, announce=true) -%}
    {%- set start = incremental_window_start(announce=announce) -%}
    {%- if not is_incremental() -%}
        {{ return(start) }}
    {%- endif -%}
    {%- set earliest = first_unaccounted_lake_day(source) -%}
    {%- if earliest is none or earliest >= start -%}
        {{ return(start) }}
    {%- endif -%}
    {%- if announce -%}
        {{ log(model.name ~ ": rows of " ~ earliest ~ " are not accounted for (a day not staged "
            ~ "yet, or a file that landed in it since); rewriting from " ~ earliest, info=true) }}
    {%- endif -%}
    {{ return(earliest) }}
{%- endmacro %}

{#
    pre-hook of every staging model: forgets the accounting of the days the model is about to
    rewrite (staging_window_start to max_date), so that its post-hook accounts for them
    again, and a run that fails leaves them unaccounted, never stale.
#}
{% macro open_lake_accounting() -%}
    {%- set source = hooked_lake_source() -%}
    {%- if source is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set window = "ingest_date between cast('" ~ staging_window_start(source, announce=false)
        ~ "' as date) and cast('" ~ window_date('max_date') ~ "' as date)" -%}
    {%- for identifier in lake_audit_tables() -%}
        {% do run_query("delete from " ~ lake_audit_relation(identifier) ~ " where "
            ~ source_is(source) ~ " and " ~ window) %}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}

{#
    post-hook of every staging model; does nothing on a model that stages no lake source
    (a base_ model, for one). Accounts for every day of the run's window whose rows are not
    accounted for (the days the pre-hook forgot, and any never accounted), then fails the
    model on any gap: a day whose rows do not add up, or a landed day up to max_date that
    is still unaccounted (it lies before this run's window).
#}
{% macro reconcile_lake_deliveries() -%}
    {%- set source = hooked_lake_source() -%}
    {%- if source is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set start = first_unaccounted_lake_day(source) -%}
    {%- if start is not none -%}
        {%- do account_for_deliveries(source, staged_base_relation(source), start) -%}
    {%- endif -%}
    {%- set label = source.source_name ~ "." ~ source.name -%}
    {%- set skipped = run_query(
        "select cast(ingest_date as varchar) from (" ~ unaccounted_lake_days(source)
        ~ ") as days order by 1").columns[0].values() -%}
    {%- if skipped | length > 0 -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": landed days of " ~ label ~ " are not staged (partitions landed <> "
            ~ "processed): " ~ skipped | join(', ') ~ ". They lie before this run's window "
            ~ "(from " ~ lake_window_start() ~ "); run a build whose window covers them, e.g. a "
            ~ "Dagster backfill from " ~ skipped[0] ~ ", or dbt build --select " ~ model.name
            ~ "+ without a window.") }}
    {%- endif -%}
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
            model.name ~ ": rows of " ~ label ~ " are unaccounted "
            ~ "(audit.row_count_reconciliation); a row reached neither staging, the duplicates, "
            ~ "audit.corrected_rows nor audit.quarantined_rows:\n  " ~ lines | join("\n  ")) }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{% macro source_is(source, alias=none) -%}
    {%- set prefix = alias ~ '.' if alias else '' -%}
    {{ prefix }}source_system = {{ dbt.string_literal(source.source_name) }}
    and {{ prefix }}source_name = {{ dbt.string_literal(source.name) }}
{%- endmacro %}

{#
    Rewrites the source's accounting from ingest date `start` to the window's end in the
    three audit tables. The outcomes are classified again, on their narrow columns, as the
    model did (delivery_outcomes); the raw record is read back only for the rows the audit
    keeps, from their files alone.
#}
{% macro account_for_deliveries(source, base_relation, start) -%}
    {%- set outcomes = make_temp_relation(this, '__lake_outcomes').identifier -%}
    {%- do run_query("create or replace temporary table " ~ outcomes ~ " as "
        ~ delivery_outcomes(base_relation, source, start, this)) -%}
    {%- set files = [] -%}
    {%- for path in run_query("select distinct _source_file from " ~ outcomes
        ~ " where _delivery_outcome not in ('kept', 'duplicate') order by 1").columns[0].values() -%}
        {%- do files.append(dbt.string_literal(path | replace("'", "''"))) -%}
    {%- endfor -%}
    {%- do run_query(accounting_statements(source, base_relation, start, outcomes, files)) -%}
{%- endmacro %}

{% macro accounting_statements(source, base_relation, start, outcomes, files) -%}
    {%- set window = "ingest_date between cast('" ~ start ~ "' as date) and cast('"
        ~ window_date('max_date') ~ "' as date)" -%}
    {%- set system_and_name = dbt.string_literal(source.source_name) ~ ", " ~ dbt.string_literal(source.name) -%}
    {%- set set_aside = make_temp_relation(this, '__lake_set_aside').identifier -%}
    create or replace temporary table {{ set_aside }} as
    select
        outcomes._ingest_date,
        outcomes._source_file,
        outcomes._rejection_reason,
        outcomes._delivery_outcome,
        landed._raw_record
    from {{ outcomes }} as outcomes
    inner join {{ base_relation }} as landed
        on
            outcomes._source_file = landed._source_file
            and outcomes._source_row = landed._source_row
    where
        outcomes._delivery_outcome not in ('kept', 'duplicate')
        and landed._source_file in ({{ files | join(', ') if files else 'null' }});

    delete from {{ lake_audit_relation('quarantined_rows') }}
    where {{ source_is(source) }} and {{ window }};
    insert into {{ lake_audit_relation('quarantined_rows') }}
    select {{ system_and_name }}, _ingest_date, _source_file, _rejection_reason, _raw_record
    from {{ set_aside }}
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
    from {{ set_aside }}
    where _delivery_outcome in ('correction_staged', 'correction_set_aside');

    delete from {{ lake_audit_relation('row_count_reconciliation') }}
    where {{ source_is(source) }} and {{ window }};
    insert into {{ lake_audit_relation('row_count_reconciliation') }}
    with

    {#- every day with a readable file, so that one of empty files is accounted too #}
    landed_days as (
        select ingest_date, count(*) as files_accounted
        from {{ existing_audit_relation('lake_file_inventory') }}
        where {{ source_is(source) }} and status = 'readable' and {{ window }}
        group by ingest_date
    ),

    landed_rows as (
        select _ingest_date as ingest_date, count(*) as rows_landed
        from {{ base_relation }}
        where {{ incremental_window('_ingest_date', start=start) }}
        group by _ingest_date
    ),

    landed as (
        select
            coalesce(landed_days.ingest_date, landed_rows.ingest_date) as ingest_date,
            coalesce(landed_rows.rows_landed, 0) as rows_landed,
            coalesce(landed_days.files_accounted, 0) as files_accounted
        from landed_days
        full outer join landed_rows on landed_days.ingest_date = landed_rows.ingest_date
    ),

    staged as (
        select _ingest_date as ingest_date, count(*) as rows_staged
        from {{ this }}
        where {{ incremental_window('_ingest_date', start=start) }}
        group by _ingest_date
    ),

    duplicates as (
        select _ingest_date as ingest_date, count(*) as rows_duplicate
        from {{ outcomes }}
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
            landed.files_accounted,
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
        rows_landed - rows_kept - rows_duplicate - rows_corrected - rows_quarantined,
        files_accounted
    from counts;

    drop table {{ outcomes }};
    drop table {{ set_aside }}
{%- endmacro %}
