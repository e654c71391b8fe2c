{#
    The PII policy's checks that need no lineage, run as an on-run-start hook so that every
    dbt run, build, test, seed and snapshot (by hand, in CI, in Dagster) stops before it
    writes anything when the classification is incomplete (docs/governance.md):

    - every source column is classified: config: {meta: {pii: direct|quasi|none}};
    - every column in the lake's files is declared in the sources YAML, so a column a feed
      starts sending fails the build until someone classifies it;
    - classifications are valid: pseudonymised and pii_exception go with direct,
      subject_key with quasi;
    - a mart or ML model holds a direct identifier only as a keyed pseudonym
      (pseudonymised: true); elsewhere a direct identifier in clear carries a pii_exception
      saying why (the base views over the raw lake, the quarantine's raw records).

    The lineage rules (a direct identifier that reaches a mart un-pseudonymised without
    being declared, quasi-identifiers in exports) need the compiled SQL and run in Python:
    warehouse/governance/policy.py. Returns no SQL.
#}
{% macro check_pii_policy() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set levels = ['direct', 'quasi', 'none'] -%}
    {%- set protected = ['marts', 'ml'] -%}
    {%- set problems = [] -%}
    {#- A file unchanged since the inventory's last run keeps that inspection: only new or
        changed files' footers are read (at scale M, 0.4 s of every run's start). -#}
    {%- set known_inventory = reusable_lake_inventory(existing_audit_relation('lake_file_inventory')) -%}
    {%- for source in graph.sources.values() if source.package_name == 'ml_warehouse' -%}
        {%- set where = source.original_file_path ~ ': ' ~ source.source_name ~ '.' ~ source.name -%}
        {%- for name, column in source.columns.items() -%}
            {%- if column.meta.get('pii') not in levels -%}
                {%- do problems.append(where ~ '.' ~ name
                    ~ ' is not classified: add config: {meta: {pii: direct|quasi|none}}') -%}
            {%- endif -%}
        {%- endfor -%}
        {%- for name in pii_policy_landed_columns(source, known_inventory) if name not in source.columns -%}
            {%- do problems.append(where ~ ': the lake\'s files have a column ' ~ name
                ~ ' that is not declared; declare and classify it before it is used') -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for node in graph.nodes.values()
        if node.resource_type in ('model', 'snapshot') and node.package_name == 'ml_warehouse' -%}
        {%- set yaml_file = (node.patch_path or node.original_file_path).split('://')[-1] -%}
        {%- set in_protected_layer = node.resource_type == 'model' and node.fqn | length > 2
            and node.fqn[1] in protected -%}
        {%- for name, column in node.columns.items() -%}
            {%- set meta = column.meta -%}
            {%- set level = meta.get('pii') -%}
            {%- set where = yaml_file ~ ': ' ~ node.name ~ '.' ~ name -%}
            {%- if level is not none and level not in levels -%}
                {%- do problems.append(where ~ ': pii must be direct, quasi or none, not ' ~ level) -%}
            {%- endif -%}
            {%- if (meta.get('pseudonymised') or meta.get('pii_exception')) and level != 'direct' -%}
                {%- do problems.append(where ~ ': pseudonymised and pii_exception go with pii: direct') -%}
            {%- endif -%}
            {%- if meta.get('subject_key') and level != 'quasi' -%}
                {%- do problems.append(where ~ ': subject_key goes with pii: quasi') -%}
            {%- endif -%}
            {%- if level == 'direct' and not meta.get('pseudonymised') -%}
                {%- if in_protected_layer -%}
                    {%- do problems.append(where ~ ': a mart or ML model may hold a direct identifier '
                        ~ 'only as a keyed pseudonym (pseudonymise() upstream, pseudonymised: true)') -%}
                {%- elif not meta.get('pii_exception') -%}
                    {%- do problems.append(where ~ ': a direct identifier in clear needs '
                        ~ 'pii_exception: <why it is kept>') -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if problems -%}
        {{ exceptions.raise_compiler_error(
            "PII policy: " ~ problems | length ~ " problem(s); nothing was run (docs/governance.md):\n  - "
            ~ problems | join("\n  - ")
        ) }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#
    The columns the lake's files of a source hold (empty when none has landed);
    `known_inventory` (reusable_lake_inventory, or none) lends unchanged files their
    inspection.
#}
{% macro pii_policy_landed_columns(source, known_inventory=none) -%}
    {{ return(adapter.dispatch('pii_policy_landed_columns', 'ml_warehouse')(source, known_inventory)) }}
{%- endmacro %}

{% macro duckdb__pii_policy_landed_columns(source, known_inventory) -%}
    {#- Readable files only (macros/lake_files.sql): an unreadable file, or one of another
        feed dropped in the wrong folder, is quarantined by the run, not a new column. -#}
    {%- set lake_dir = source.meta.get('lake_dir') -%}
    {%- if not lake_dir or source.source_name != 'shop' -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set described = run_query(
        "select distinct unnest(cast(json_extract(inspection, '$.columns') as varchar[])) as name"
        ~ " from (" ~ lake_file_inspections(
            source.name, lake_dir ~ '/' ~ source.name, decode=false, known_inventory=known_inventory
        ) ~ ")"
        ~ " where json_extract_string(inspection, '$.status') = 'readable' order by name"
    ) -%}
    {{ return(described.columns[0].values() | list) }}
{%- endmacro %}

{% macro default__pii_policy_landed_columns(source, known_inventory) -%}
    {{ log("PII policy: the lake's columns are compared with the sources YAML on DuckDB only; "
        ~ "add " ~ adapter.type() ~ "__pii_policy_landed_columns in macros/pii_policy.sql", info=true) }}
    {{ return([]) }}
{%- endmacro %}
