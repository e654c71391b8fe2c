{#
    Fails when the model's row count is below min_rows or above max_rows (optional): a
    guard against an empty or exploded table.
#}
{% test row_count_in_range(model, min_rows, max_rows=none) %}
with counted as (
    select count(*) as row_count from {{ model }}
)

select row_count
from counted
where
    row_count < {{ min_rows }}
    {%- if max_rows is not none %}
        or row_count > {{ max_rows }}
    {%- endif %}
{% endtest %}
