{#
    The settings of the training set's splits (models/ml/ml_training_set.sql), checked once
    here so that the model and the no_empty_training_splits test read the same values. A bad
    combination stops compilation with a message naming the vars and what to do; the only
    values a message repeats are the vars' own shares, dates and numbers of days, never data.
#}

{# The configured share of each split, {'train': ..., 'validation': ..., 'test': ...}. #}
{% macro training_split_shares() -%}
    {%- set train_share = ml_warehouse.validated_share_var('split_train_share') -%}
    {%- set validation_share = ml_warehouse.validated_share_var('split_validation_share') -%}
    {%- if not (0 < train_share and train_share + validation_share < 1) -%}
        {{ exceptions.raise_compiler_error(
            "vars split_train_share (" ~ train_share ~ ") and split_validation_share ("
            ~ validation_share ~ ") must be shares between 0 and 1, split_train_share above 0, "
            ~ "that add up to less than 1 to leave room for a test split: lower one of them"
        ) }}
    {%- endif -%}
    {{ return({
        'train': train_share,
        'validation': validation_share,
        'test': 1 - train_share - validation_share,
    }) }}
{%- endmacro %}

{#
    Days between the as-of dates of consecutive time splits: a row of as-of date D is only
    in a split before the one starting on S when D + embargo <= S, so its label window
    (label_horizon_days) ends before any later split's first as-of date.
#}
{% macro split_embargo_days() -%}
    {%- set embargo = ml_warehouse.validated_integer_var('split_embargo_days', 0, 3650) -%}
    {%- set horizon = ml_warehouse.label_horizon_days() -%}
    {%- if embargo < horizon -%}
        {{ exceptions.raise_compiler_error(
            "var split_embargo_days must be at least the label horizon (label_horizon_days(): "
            ~ horizon ~ " days), or the label windows of train rows would reach "
            ~ "into the validation and test as-of dates: raise it"
        ) }}
    {%- endif -%}
    {{ return(embargo) }}
{%- endmacro %}

{#
    The time split's cut-off dates given by vars split_validation_start and split_test_start,
    as [validation_start, test_start]; none when both are 'auto' (cut-offs from the shares).
#}
{% macro time_split_cutoff_vars() -%}
    {%- set given = [var('split_validation_start') | string != 'auto', var('split_test_start') | string != 'auto'] -%}
    {%- if given == [false, false] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if given != [true, true] -%}
        {{ exceptions.raise_compiler_error(
            "vars split_validation_start and split_test_start go together: set both to dates "
            ~ "(YYYY-MM-DD), or leave both 'auto' for cut-offs from the split shares"
        ) }}
    {%- endif -%}
    {%- set validation_start = ml_warehouse.validated_date_var('split_validation_start') -%}
    {%- set test_start = ml_warehouse.validated_date_var('split_test_start') -%}
    {%- if validation_start >= test_start -%}
        {{ exceptions.raise_compiler_error(
            "var split_validation_start (" ~ validation_start ~ ") must be before var "
            ~ "split_test_start (" ~ test_start ~ "): swap or change them"
        ) }}
    {%- endif -%}
    {%- set embargo = ml_warehouse.split_embargo_days() -%}
    {%- set room = modules.datetime.date.fromisoformat(test_start)
        - modules.datetime.date.fromisoformat(validation_start) -%}
    {%- if room.days < embargo -%}
        {{ exceptions.raise_compiler_error(
            "vars split_validation_start (" ~ validation_start ~ ") and split_test_start ("
            ~ test_start ~ ") leave no validation as-of date: a validation date D needs "
            ~ "D + split_embargo_days (" ~ embargo ~ ") <= split_test_start, so "
            ~ "split_test_start must be at least " ~ embargo ~ " days after "
            ~ "split_validation_start: move them apart"
        ) }}
    {%- endif -%}
    {{ return([validation_start, test_start]) }}
{%- endmacro %}
