{#
    The PII policy's rules that need no lineage, run as an on-run-start hook so that every
    dbt run, build, test, seed and snapshot (by hand, in CI, in Dagster) stops before it
    writes anything when the classification is incomplete (docs/governance.md): source
    columns classified, every column of the lake's files declared, classifications valid,
    direct identifiers in clear only where an exception says why.

    The rules and their messages are defined once, in Python
    (warehouse/governance/classification.py), which `python -m warehouse.governance.policy`
    runs too, with the lineage rules: this hook gathers what they read from dbt's graph
    (each column's meta, where each node is declared, the lake's columns from the lake
    inventory) and passes it to the DuckDB function pii_policy_problems that the project's
    plugin registers (warehouse/duckdb_plugin.py). Returns no SQL.
#}
{% macro check_pii_policy() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set facts = {'sources': {}, 'nodes': {}, 'landed': {}} -%}
    {#- A file unchanged since the inventory's last run keeps that inspection: only new or
        changed files' footers are read. -#}
    {%- set known_inventory = reusable_lake_inventory(existing_audit_relation('lake_file_inventory')) -%}
    {%- for source in graph.sources.values() if source.package_name == 'ml_warehouse' -%}
        {%- do facts['sources'].update({source.unique_id: pii_policy_declarations(source)}) -%}
        {%- set landed = pii_policy_landed_columns(source, known_inventory) -%}
        {%- if landed is not none -%}
            {%- do facts['landed'].update({source.unique_id: landed}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for node in graph.nodes.values()
        if node.resource_type in ('model', 'snapshot') and node.package_name == 'ml_warehouse' -%}
        {%- do facts['nodes'].update({node.unique_id: pii_policy_declarations(node)}) -%}
    {%- endfor -%}
    {%- set problems = pii_policy_problems(facts) -%}
    {%- if problems -%}
        {{ exceptions.raise_compiler_error(
            "PII policy: " ~ problems | length ~ " problem(s); nothing was run (docs/governance.md):\n  - "
            ~ problems | join("\n  - ")
        ) }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#
    What the policy's rules read of a source, model or snapshot, in the manifest's shape
    (warehouse/governance/classification.py): where it is declared, its layer, and the meta
    of each column.
#}
{% macro pii_policy_declarations(node) -%}
    {%- set columns = {} -%}
    {%- for name, column in node.columns.items() -%}
        {%- do columns.update({name: {'meta': column.meta}}) -%}
    {%- endfor -%}
    {{ return({
        'package_name': node.package_name,
        'resource_type': node.resource_type,
        'name': node.name,
        'source_name': node.get('source_name'),
        'original_file_path': node.original_file_path,
        'patch_path': node.get('patch_path'),
        'fqn': node.fqn,
        'columns': columns,
    }) }}
{%- endmacro %}

{#
    The violations of the rules that need no lineage among `facts` (check_pii_policy), as
    text: the rules run in Python, in the DuckDB function the project's plugin registers.
#}
{% macro pii_policy_problems(facts) -%}
    {{ return(adapter.dispatch('pii_policy_problems', 'ml_warehouse')(facts)) }}
{%- endmacro %}

{% macro duckdb__pii_policy_problems(facts) -%}
    {%- set found = run_query(
        "select unnest(pii_policy_problems("
        ~ dbt.string_literal(tojson(facts) | replace("'", "''")) ~ ")) as problem"
    ) -%}
    {{ return(found.columns[0].values() | list) }}
{%- endmacro %}

{% macro default__pii_policy_problems(facts) -%}
    {{ exceptions.raise_compiler_error(
        "PII policy: its rules run in Python through the project's DuckDB plugin; add "
        ~ adapter.type() ~ "__pii_policy_problems in macros/pii_policy.sql to run them on "
        ~ adapter.type()
    ) }}
{%- endmacro %}

{#
    The columns the lake's files of a source table hold and the folder read, as
    {folder, columns}, or none when the table is not lake-backed: a lake-backed table, of
    any system, has a `lake` contract and a `lake_dir` in its meta (the source's keys merged
    with the table's), its files under <lake_dir>/<table>. `known_inventory`
    (reusable_lake_inventory, or none) lends unchanged files their inspection.
#}
{% macro pii_policy_landed_columns(source, known_inventory=none) -%}
    {{ return(adapter.dispatch('pii_policy_landed_columns', 'ml_warehouse')(source, known_inventory)) }}
{%- endmacro %}

{% macro duckdb__pii_policy_landed_columns(source, known_inventory) -%}
    {#- Readable files only (macros/lake_files.sql): an unreadable file, or one of another
        feed dropped in the wrong folder, is quarantined by the run, not a new column. -#}
    {%- if source.meta.get('lake') is not mapping -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set folder = lake_folder(source) -%}
    {%- set described = run_query(
        "select distinct unnest(cast(json_extract(inspection, '$.columns') as varchar[])) as name"
        ~ " from (" ~ lake_file_inspections(
            source, decode=false, known_inventory=known_inventory
        ) ~ ")"
        ~ " where json_extract_string(inspection, '$.status') = 'readable' order by name"
    ) -%}
    {{ return({'folder': folder, 'columns': described.columns[0].values() | list}) }}
{%- endmacro %}

{% macro default__pii_policy_landed_columns(source, known_inventory) -%}
    {{ log("PII policy: the lake's columns are compared with the sources YAML on DuckDB only; "
        ~ "add " ~ adapter.type() ~ "__pii_policy_landed_columns in macros/pii_policy.sql", info=true) }}
    {{ return(none) }}
{%- endmacro %}
