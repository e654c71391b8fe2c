{#
    Fails for every row where the SQL `expression` is not true (false or null), e.g.
    expression: "gross_amount_eur >= 0". An optional `where` config narrows the rows.
#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ column_name ~ " " if column_name }}{{ expression }}), false)
{% endtest %}
