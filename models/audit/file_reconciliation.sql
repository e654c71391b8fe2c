{#-
    For every source: files landed = files read + files quarantined. Landed is counted from
    the lake folder itself, read from the inventory's readable files, quarantined from
    quarantined_files; a file in neither shows up as unaccounted_files, kept at 0 by a test.
-#}
with

landed as (
    {%- for source in lake_sources() %}
        select
            {{ dbt.string_literal(source.source_name) }} as source_system,
            {{ dbt.string_literal(source.name) }} as source_name,
            count(*) as files_landed
        from {{ lake_landed_files(lake_folder(source)) }}
        {% if not loop.last %}union all{% endif %}
    {%- else %}
        select
            cast(null as {{ dbt.type_string() }}) as source_system,
            cast(null as {{ dbt.type_string() }}) as source_name,
            cast(0 as bigint) as files_landed
        where false
    {%- endfor %}
),

read as (
    select
        source_system,
        source_name,
        count(*) as files_read
    from {{ ref('lake_file_inventory') }}
    where status = 'readable'
    group by source_system, source_name
),

quarantined as (
    select
        source_system,
        source_name,
        count(*) as files_quarantined
    from {{ ref('quarantined_files') }}
    group by source_system, source_name
)

select
    landed.source_system,
    landed.source_name,
    landed.files_landed,
    coalesce(read.files_read, 0) as files_read,
    coalesce(quarantined.files_quarantined, 0) as files_quarantined,
    landed.files_landed
    - coalesce(read.files_read, 0)
    - coalesce(quarantined.files_quarantined, 0) as unaccounted_files
from landed
left join read
    on
        landed.source_system = read.source_system
        and landed.source_name = read.source_name
left join quarantined
    on
        landed.source_system = quarantined.source_system
        and landed.source_name = quarantined.source_name
