{#
    Fails for every pair of rows of the same partition whose [lower, upper) ranges
    overlap, and for every row whose lower bound is not before its upper bound. A null
    upper bound means "still open" (as dbt_valid_to of a current snapshot version). Used
    on snapshot validity windows: one version of an entity at any moment.
#}
{% test mutually_exclusive_ranges(model, lower_bound_column, upper_bound_column, partition_by) %}
with ranges as (
    select
        {{ partition_by }} as partition_key,
        {{ lower_bound_column }} as lower_bound,
        {{ upper_bound_column }} as upper_bound,
        row_number() over (order by {{ partition_by }}, {{ lower_bound_column }}) as range_id
    from {{ model }}
),

empty_or_inverted as (
    select partition_key, lower_bound, upper_bound
    from ranges
    where upper_bound is not null and upper_bound <= lower_bound
),

overlapping as (
    select earlier.partition_key, earlier.lower_bound, earlier.upper_bound
    from ranges as earlier
    inner join ranges as later
        on
            earlier.partition_key = later.partition_key
            and earlier.range_id != later.range_id
            and earlier.lower_bound <= later.lower_bound
            and (earlier.upper_bound is null or earlier.upper_bound > later.lower_bound)
)

select partition_key, lower_bound, upper_bound from empty_or_inverted
union all
select partition_key, lower_bound, upper_bound from overlapping
{% endtest %}
