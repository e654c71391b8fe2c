{#
    Fails when the model has rows but a split that is meant to hold some has none: for each
    of `split_columns` (train / validation / test in each), every split whose configured
    share (vars split_train_share, split_validation_share, and the rest for test; macros/
    training_splits.sql) is above 0. A failing row names the column and the empty split.
    A model without any rows passes (a lake younger than the label horizon has no training
    set yet), and a share of 0 means that split is meant to be empty. Values other than
    those named (such as 'embargoed' or 'excluded') are not checked.
#}
{% test no_empty_training_splits(model, split_columns) %}
{%- set shares = ml_warehouse.training_split_shares() %}
with

split_rows as (
    {%- for column in split_columns %}
        select
            '{{ column }}' as split_column,
            {{ column }} as split,
            count(*) as row_count
        from {{ model }}
        group by {{ column }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

expected_splits as (
    {%- for column in split_columns %}
        {%- set column_loop = loop %}
        {%- for split in ['train', 'validation', 'test'] if shares[split] > 0 %}
            select
                '{{ column }}' as split_column,
                '{{ split }}' as split
            {%- if not (column_loop.last and loop.last) %}
                union all
            {%- endif %}
        {%- endfor %}
    {%- endfor %}
)

select
    expected_splits.split_column,
    expected_splits.split
from expected_splits
left join split_rows
    on
        expected_splits.split_column = split_rows.split_column
        and expected_splits.split = split_rows.split
where
    split_rows.split is null
    and exists (select 1 from {{ model }})
{% endtest %}
