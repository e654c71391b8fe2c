{#
    The natural key of each raw shop table (docs/sample_lake.md): staging keeps one row per
    key, and the reconciliation counts every other clean row with that key as a duplicate.
#}
{% macro shop_natural_keys() -%}
    {{ return({
        'customers': ['customer_id', 'updated_at'],
        'products': ['product_id', '_ingest_date'],
        'orders': ['order_id', 'status'],
        'order_items': ['order_id', 'line_number'],
        'events': ['event_id'],
    }) }}
{%- endmacro %}

{# "left.k1 = right.k1 and left.k2 = right.k2 ..." for a natural key. #}
{% macro key_columns_match(left_alias, right_alias, key_columns) -%}
    {%- set conditions = [] -%}
    {%- for key in key_columns -%}
        {%- do conditions.append(left_alias ~ '.' ~ key ~ ' = ' ~ right_alias ~ '.' ~ key) -%}
    {%- endfor -%}
    {{ conditions | join(' and ') }}
{%- endmacro %}
