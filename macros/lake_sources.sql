{#
    The lake's feeds, read from the sources YAML (docs/add-a-source.md): a source table is
    lake-backed when its meta has a `lake` block, the table's contract. These macros are the
    only way the machinery learns which feeds exist and what each promises, so a new system
    declared in YAML is inventoried, quarantined, reconciled and staged like the others.
    They read dbt's graph, which exists only at execution: at parse time they return nothing.
#}

{# Every lake-backed source table of this project, each a source node of the graph. #}
{% macro lake_sources() -%}
    {%- set found = [] -%}
    {%- if execute -%}
        {%- for source in graph.sources.values()
            if source.package_name == project_name and 'lake' in source.meta -%}
            {%- do found.append(source) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(found | sort(attribute='unique_id')) }}
{%- endmacro %}

{#
    The folder holding the source's Hive partitions: <lake root>/<lake_subdir>/<table>, the
    lake root being WAREHOUSE_LAKE_DIR and lake_subdir the system's folder in it (source
    meta; none for a system at the root). warehouse/lake_sources.py says the same in Python.
#}
{% macro lake_folder(source) -%}
    {%- set subdir = (source.meta.get('lake_subdir') or '') | trim('/') -%}
    {{ return(env_var('WAREHOUSE_LAKE_DIR', 'data/lake') ~ '/' ~ (subdir ~ '/' if subdir) ~ source.name) }}
{%- endmacro %}

{#
    The source's contract (meta.lake), checked: a contract the machinery cannot honour stops
    the run with the file, table and key to fix, instead of being read some other way.
#}
{% macro lake_contract(source) -%}
    {%- set contract = source.meta.lake -%}
    {%- set where = source.original_file_path ~ ": source " ~ source.source_name ~ "." ~ source.name
        ~ ", meta.lake." -%}
    {%- if contract is not mapping -%}
        {{ exceptions.raise_compiler_error(where ~ " must be a mapping (docs/add-a-source.md)") }}
    {%- endif -%}
    {%- set natural_key = contract.get('natural_key') -%}
    {%- if natural_key is string or natural_key is not iterable or natural_key | length == 0
        or natural_key | select('none') | list | length > 0 -%}
        {{ exceptions.raise_compiler_error(
            where ~ "natural_key must list the columns that identify a record") }}
    {%- endif -%}
    {%- set delivery = contract.get('delivery') -%}
    {%- if delivery not in ('change_feed', 'full_dump') -%}
        {{ exceptions.raise_compiler_error(where ~ "delivery must be change_feed or full_dump") }}
    {%- endif -%}
    {%- set on_conflict = contract.get('on_conflict', 'quarantine') -%}
    {%- if on_conflict not in ('latest', 'first', 'quarantine') -%}
        {{ exceptions.raise_compiler_error(where ~ "on_conflict must be latest, first or quarantine") }}
    {%- endif -%}
    {%- if contract.get('partition', 'ingest_date') != 'ingest_date' -%}
        {{ exceptions.raise_compiler_error(
            where ~ "partition: only daily Hive partitions named ingest_date are supported") }}
    {%- endif -%}
    {%- set required = contract.get('required_columns') or natural_key -%}
    {{ return({
        'natural_key': natural_key | list,
        'required_columns': required | list,
        'event_time': contract.get('event_time'),
        'delivery': delivery,
        'on_conflict': on_conflict,
    }) }}
{%- endmacro %}

{#
    The columns that identify one delivered record: the natural key, plus the landing day
    for a full dump (each day's dump states every record again).
#}
{% macro lake_record_key(source) -%}
    {%- set contract = lake_contract(source) -%}
    {%- if contract.delivery == 'full_dump' -%}
        {{ return(contract.natural_key + ['_ingest_date']) }}
    {%- endif -%}
    {{ return(contract.natural_key) }}
{%- endmacro %}

{# The source node a source() relation points at (dbt-duckdb renders it as its location). #}
{% macro lake_source_of_relation(source_relation) -%}
    {%- for source in lake_sources()
        if source.schema == source_relation.schema and source.identifier == source_relation.identifier -%}
        {{ return(source) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error(
        "No lake-backed source matches " ~ source_relation.schema ~ "." ~ source_relation.identifier
        ~ ": give the table a meta.lake block in its sources YAML (docs/add-a-source.md)") }}
{%- endmacro %}

{#
    The lake source a model reads: the one source among its parents, or among its parents'
    parents (a staging model reads its base_ model, which reads the source). None when it
    reads no lake source.
#}
{% macro lake_source_of_model(node) -%}
    {%- set found = [] -%}
    {%- for parent_id in node.depends_on.nodes -%}
        {%- if parent_id in graph.sources and 'lake' in graph.sources[parent_id].meta -%}
            {%- do found.append(graph.sources[parent_id]) -%}
        {%- elif parent_id in graph.nodes and parent_id.startswith('model.') -%}
            {%- for grandparent_id in graph.nodes[parent_id].depends_on.nodes
                if grandparent_id in graph.sources and 'lake' in graph.sources[grandparent_id].meta -%}
                {%- do found.append(graph.sources[grandparent_id]) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set found = found | unique(attribute='unique_id') | list -%}
    {%- if found | length > 1 -%}
        {{ exceptions.raise_compiler_error(
            node.original_file_path ~ ": " ~ node.name ~ " reads " ~ found | length
            ~ " lake sources; a staging model stages exactly one") }}
    {%- endif -%}
    {{ return(found[0] if found else none) }}
{%- endmacro %}

{# The graph node of a model relation (ref()), matched by its rendered name. #}
{% macro model_node_of_relation(relation) -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name
            and node.relation_name == relation.render() -%}
        {{ return(node) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("No model of this project is built as " ~ relation.render()) }}
{%- endmacro %}

{# "left.k1 = right.k1 and left.k2 = right.k2 ..." for a record key. #}
{% macro key_columns_match(left_alias, right_alias, key_columns) -%}
    {%- set conditions = [] -%}
    {%- for key in key_columns -%}
        {%- do conditions.append(left_alias ~ '.' ~ key ~ ' = ' ~ right_alias ~ '.' ~ key) -%}
    {%- endfor -%}
    {{ conditions | join(' and ') }}
{%- endmacro %}

{# "alias.k1, alias.k2, ..." for a record key. #}
{% macro key_columns_of(alias, key_columns) -%}
    {%- set qualified = [] -%}
    {%- for key in key_columns -%}
        {%- do qualified.append(alias ~ '.' ~ key) -%}
    {%- endfor -%}
    {{ qualified | join(', ') }}
{%- endmacro %}
