{#
    Fails for every row whose column lies outside [min_value, max_value] (either bound may
    be omitted; inclusive by default). Nulls pass: pair with not_null when they must not.
#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
{%- if min_value is none and max_value is none -%}
    {{ exceptions.raise_compiler_error("accepted_range on " ~ model ~ "." ~ column_name ~ ": give min_value, max_value or both") }}
{%- endif -%}
select {{ column_name }}
from {{ model }}
where
    1 = 0
    {%- if min_value is not none %}
        or {{ column_name }} {{ "<" if inclusive else "<=" }} {{ min_value }}
    {%- endif %}
    {%- if max_value is not none %}
        or {{ column_name }} {{ ">" if inclusive else ">=" }} {{ max_value }}
    {%- endif %}
{% endtest %}
