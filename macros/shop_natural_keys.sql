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
