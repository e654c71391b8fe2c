{#
    k-anonymity for the ML exports (README, "Governance"). An export carries three
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
    (before the first snapshot) read "unknown" until level 4.

    k_anonymous_quasi_identifiers(rows) is a query: for each (customer_id, as_of_date) of
    `rows` (a relation or CTE name), its generalised age_band, country_area and
    postal_prefix, taken from the customer's snapshot version valid just before the as-of
    date (as the features are). The generic test k_anonymous checks the result.
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

{% macro k_anonymous_quasi_identifiers(rows) -%}
{%- set k = k_anonymity_k() -%}
{%- set levels = k_anonymity_levels() -%}
{%- set last = levels | length - 1 -%}
with

row_keys as (
    select distinct
        customer_id,
        as_of_date
    from {{ rows }}
),

attributes as (
    select
        row_keys.customer_id,
        row_keys.as_of_date,
        extract(year from row_keys.as_of_date) - versions.birth_year as age,
        versions.country_code,
        countries.region,
        versions.postal_code
    from row_keys
    left join {{ ref('dim_customers_history') }} as versions
        on
            row_keys.customer_id = versions.customer_id
            and {{ valid_at('cast(row_keys.as_of_date as ' ~ dbt.type_timestamp() ~ ')', 'versions', strictly_before=true) }}
    left join {{ ref('countries') }} as countries
        on versions.country_code = countries.country_code
),

candidates as (
    select
        customer_id,
        as_of_date,
        {%- for level in levels %}
            {{ k_anonymity_age_band('age', level.age) }} as age_band_{{ loop.index0 }},
            {{ k_anonymity_area('country_code', 'region', level.area) }} as country_area_{{ loop.index0 }},
            {{ k_anonymity_postal('postal_code', level.postal) }} as postal_prefix_{{ loop.index0 }}{{ "," if not loop.last }}
        {%- endfor %}
    from attributes
),

{% for level in levels %}
    {%- set i = loop.index0 %}
    {#- the rows still to place at this level: not placed at an earlier one #}
    pending_{{ i }} as (
        select candidates.*
        from candidates
        {%- for j in range(i) %}
            left join placed_{{ j }}
                on
                    candidates.customer_id = placed_{{ j }}.customer_id
                    and candidates.as_of_date = placed_{{ j }}.as_of_date
        {%- endfor %}
        {%- if i > 0 %}
            where
                {%- for j in range(i) %}
                    placed_{{ j }}.customer_id is null{{ " and" if not loop.last }}
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
        select
            pending_{{ i }}.customer_id,
            pending_{{ i }}.as_of_date,
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
            customer_id,
            as_of_date,
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
    from placed_{{ last }}
    having count(distinct customer_id) between 1 and {{ k - 1 }}
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
    placed.customer_id,
    placed.as_of_date,
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
