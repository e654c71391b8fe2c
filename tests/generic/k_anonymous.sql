{#
    k-anonymity: fails for every combination of the quasi-identifiers that covers fewer than
    k distinct entities (customers). k defaults to var k_anonymity; the exports generalise
    their quasi-identifiers so that this holds (macros/k_anonymity.sql).
#}
{% test k_anonymous(model, quasi_identifiers, entity_column='customer_id', k=none) %}
{%- set k = k_anonymity_k() if k is none else k | int %}
select
    {{ quasi_identifiers | join(', ') }},
    count(distinct {{ entity_column }}) as entities
from {{ model }}
group by {{ quasi_identifiers | join(', ') }}
having count(distinct {{ entity_column }}) < {{ k }}
{% endtest %}
