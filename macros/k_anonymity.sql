{#
    k-anonymity for the ML exports (docs/governance.md). An export carries three
    quasi-identifiers, generalised so that every combination of them covers at least k
    customers (var k_anonymity, default 5):

        level  age_band          country_area               postal_prefix
        0      5 years: 30-34    country code: DE           3 digits: 101
        1      10 years: 30-39   country code               2 digits: 10
        2      20 years: 20-39   country code               1 digit: 1
        3      20 years          region: Western Europe     *
        4      *                 *                          *

    Rows are generalised only as far as they need: a combination that covers k customers at
    level 0 keeps it, the rest try level 1 among themselves, and so on; what is left at
    level 4 is one group of "*". Should that last group hold fewer than k customers, the
    smallest group already formed joins it, which makes it k at least. Unknown attributes
    read "unknown" until level 4.

    Every level is a coarsening of level 0, so where a row ends up depends only on its
    level-0 combination: the placement is computed once over the distinct (customer,
    attributes) of the rows, into a small table keyed by the level-0 combination, and each
    exported row joins to it. (Placing every exported row holds copies of the whole training
    set in memory, more than a 2 GiB memory limit allows at scale L.)

    k_anonymity_generalisations(rows) is that table's query for `rows` (a relation with
    customer_id and as_of_date): the level-0 age_band_0, country_area_0, postal_prefix_0 and
    the generalised age_band, country_area, postal_prefix (models
    ml_training_set_generalisations, ml_customer_features_latest_generalisations).
    k_anonymity_joins(rows_alias, generalisations, alias) are the joins that give a row its
    generalised values, from the customer's version known on the as-of date
    (int_customers_known_by_as_of_date, as the features use). The generic test k_anonymous checks the result.
#}
{% macro k_anonymity_k() -%}
    {{ return(validated_integer_var('k_anonymity', 2, 1000)) }}
{%- endmacro %}

{% macro k_anonymity_levels() -%}
    {#- per level: (age band width in years or none for *, country or region or none, postal digits) -#}
    {{ return([
        {'age': 5, 'area': 'country', 'postal': 3},
        {'age': 10, 'area': 'country', 'postal': 2},
        {'age': 20, 'area': 'country', 'postal': 1},
        {'age': 20, 'area': 'region', 'postal': 0},
        {'age': none, 'area': none, 'postal': 0},
    ]) }}
{%- endmacro %}

{% macro k_anonymity_generalisations(rows) -%}
{%- set k = k_anonymity_k() -%}
{%- set levels = k_anonymity_levels() -%}
{%- set last = levels | length - 1 -%}
with

customer_attributes as (
    select distinct
        rows_to_generalise.customer_id,
        {{ k_anonymity_age('rows_to_generalise', 'versions') }} as age,
        versions.country_code,
        countries.region,
        versions.postal_code
    from {{ rows }} as rows_to_generalise
    {{ k_anonymity_version_join('rows_to_generalise', 'versions') }}
    left join {{ ref('countries') }} as countries
        on versions.country_code = countries.country_code
),

candidates as (
    select distinct
        customer_id,
        {%- for level in levels %}
            {{ k_anonymity_age_band('age', level.age) }} as age_band_{{ loop.index0 }},
            {{ k_anonymity_area('country_code', 'region', level.area) }} as country_area_{{ loop.index0 }},
            {{ k_anonymity_postal('postal_code', level.postal) }} as postal_prefix_{{ loop.index0 }}{{ "," if not loop.last }}
        {%- endfor %}
    from customer_attributes
),

{% for level in levels %}
    {%- set i = loop.index0 %}
    {#- the combinations still to place at this level: not placed at an earlier one #}
    pending_{{ i }} as (
        select candidates.*
        from candidates
        {%- for j in range(i) %}
            left join placed_{{ j }}
                on
                    candidates.age_band_0 = placed_{{ j }}.age_band_0
                    and candidates.country_area_0 = placed_{{ j }}.country_area_0
                    and candidates.postal_prefix_0 = placed_{{ j }}.postal_prefix_0
        {%- endfor %}
        {%- if i > 0 %}
            where
                {%- for j in range(i) %}
                    placed_{{ j }}.age_band_0 is null{{ " and" if not loop.last }}
                {%- endfor %}
        {%- endif %}
    ),

    groups_{{ i }} as (
        select
            age_band_{{ i }},
            country_area_{{ i }},
            postal_prefix_{{ i }},
            count(distinct customer_id) as customers
        from pending_{{ i }}
        group by age_band_{{ i }}, country_area_{{ i }}, postal_prefix_{{ i }}
    ),

    placed_{{ i }} as (
        select distinct
            pending_{{ i }}.age_band_0,
            pending_{{ i }}.country_area_0,
            pending_{{ i }}.postal_prefix_0,
            pending_{{ i }}.age_band_{{ i }} as age_band,
            pending_{{ i }}.country_area_{{ i }} as country_area,
            pending_{{ i }}.postal_prefix_{{ i }} as postal_prefix,
            groups_{{ i }}.customers as group_customers
        from pending_{{ i }}
        inner join groups_{{ i }}
            on
                pending_{{ i }}.age_band_{{ i }} = groups_{{ i }}.age_band_{{ i }}
                and pending_{{ i }}.country_area_{{ i }} = groups_{{ i }}.country_area_{{ i }}
                and pending_{{ i }}.postal_prefix_{{ i }} = groups_{{ i }}.postal_prefix_{{ i }}
        {%- if i < last %}
            where groups_{{ i }}.customers >= {{ k }}
        {%- endif %}
    ),
{% endfor %}

placed as (
    {%- for level in levels %}
        select
            age_band_0,
            country_area_0,
            postal_prefix_0,
            age_band,
            country_area,
            postal_prefix,
            group_customers
        from placed_{{ loop.index0 }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

{#- a last group of "*" smaller than k takes in the smallest group formed before it #}
short_last_group as (
    select 1 as is_short
    from groups_{{ last }}
    where customers between 1 and {{ k - 1 }}
),

smallest_group as (
    select
        placed.age_band,
        placed.country_area,
        placed.postal_prefix
    from placed
    cross join short_last_group
    where placed.age_band <> '*'
    group by placed.age_band, placed.country_area, placed.postal_prefix
    order by min(placed.group_customers), placed.age_band, placed.country_area, placed.postal_prefix
    limit 1
)

select
    placed.age_band_0,
    placed.country_area_0,
    placed.postal_prefix_0,
    case when smallest_group.age_band is null then placed.age_band else '*' end as age_band,
    case when smallest_group.age_band is null then placed.country_area else '*' end as country_area,
    case when smallest_group.age_band is null then placed.postal_prefix else '*' end as postal_prefix
from placed
left join smallest_group
    on
        placed.age_band = smallest_group.age_band
        and placed.country_area = smallest_group.country_area
        and placed.postal_prefix = smallest_group.postal_prefix
{%- endmacro %}

{#- the customer's version known on the row's as-of date (as the features use):
    valid just before it, among the records landed before it #}
{% macro k_anonymity_version_join(rows_alias, versions_alias) -%}
    left join {{ ref('int_customers_known_by_as_of_date') }} as {{ versions_alias }}
        on
            {{ rows_alias }}.customer_id = {{ versions_alias }}.customer_id
            and {{ rows_alias }}.as_of_date >= {{ versions_alias }}.known_from_as_of_date
            and {{ rows_alias }}.as_of_date
            < {{ known_until_or_never(versions_alias ~ '.known_until_as_of_date') }}
{%- endmacro %}

{% macro k_anonymity_age(rows_alias, versions_alias) -%}
    (extract(year from {{ rows_alias }}.as_of_date) - extract(year from {{ versions_alias }}.birth_date))
{%- endmacro %}

{#- the joins that give each row of `rows_alias` its generalised quasi-identifiers, from
    `generalisations` (k_anonymity_generalisations of the same rows, as a table), under the
    alias `generalisations_alias`. A left join: should the table lack a row's combination
    (built before a newer version was known, say), the row is kept with nulls, which the
    exports write as '*', and the k_anonymous test fails if that leaves a group short of k. #}
{% macro k_anonymity_joins(rows_alias, generalisations, generalisations_alias) -%}
    {%- set level = k_anonymity_levels()[0] %}
    {%- set versions_alias = rows_alias ~ '_versions' %}
    {{ k_anonymity_version_join(rows_alias, versions_alias) }}
    left join {{ generalisations }} as {{ generalisations_alias }}
        on
            {{ k_anonymity_age_band(k_anonymity_age(rows_alias, versions_alias), level.age) }}
            = {{ generalisations_alias }}.age_band_0
            and {{ k_anonymity_area(versions_alias ~ '.country_code', none, level.area) }}
            = {{ generalisations_alias }}.country_area_0
            and {{ k_anonymity_postal(versions_alias ~ '.postal_code', level.postal) }}
            = {{ generalisations_alias }}.postal_prefix_0
{%- endmacro %}

{#- the generalised quasi-identifiers of a row joined by k_anonymity_joins: '*' where the
    left join found no combination (never a dropped row) #}
{% macro k_anonymity_columns(generalisations_alias) -%}
    {%- for column in ['age_band', 'country_area', 'postal_prefix'] %}
        coalesce({{ generalisations_alias }}.{{ column }}, '*') as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro k_anonymity_age_band(age, width) -%}
    {%- if width is none -%}
        '*'
    {%- else -%}
        case
            when {{ age }} is null then 'unknown'
            else
                cast(cast(floor({{ age }} / {{ width }}) * {{ width }} as {{ dbt.type_int() }}) as {{ dbt.type_string() }})
                || '-'
                || cast(cast(floor({{ age }} / {{ width }}) * {{ width }} + {{ width - 1 }} as {{ dbt.type_int() }}) as {{ dbt.type_string() }})
        end
    {%- endif -%}
{%- endmacro %}

{% macro k_anonymity_area(country, region, area) -%}
    {%- if area is none -%}
        '*'
    {%- else -%}
        coalesce({{ country if area == 'country' else region }}, 'unknown')
    {%- endif -%}
{%- endmacro %}

{% macro k_anonymity_postal(postal_code, digits) -%}
    {%- if digits == 0 -%}
        '*'
    {%- else -%}
        coalesce(substring({{ postal_code }}, 1, {{ digits }}), 'unknown')
    {%- endif -%}
{%- endmacro %}
