{#
    The customer features' windows and columns, shared by the feature groups
    (models/ml/features/), the thin ml_customer_features that joins them, and the tables
    that read it (labels, training set, serving, exports).
#}
{% macro feature_windows() -%}
    {{ return([7, 30, 90]) }}
{%- endmacro %}

{# Days after the as-of date that the labels look at (ml_customer_labels). #}
{% macro label_horizon_days() -%}
    {{ return(30) }}
{%- endmacro %}

{# Start of a trailing window: `days` days before 00:00 of the as-of date. #}
{% macro window_start_at(days, as_of_date) -%}
    {{ dbt.dateadd('day', -days, 'cast(' ~ as_of_date ~ ' as ' ~ dbt.type_timestamp() ~ ')') }}
{%- endmacro %}

{#
    The first as-of date whose trailing window of `days` days no longer holds an event at
    `event_at`: the window_start_at condition solved for the as-of date D (event_at >= D
    minus `days` days holds while D <= the event's date plus `days`), for the models that
    precompute from which date to which an event counts.
#}
{% macro window_left_on(days, event_at) -%}
    cast({{ dbt.dateadd('day', days + 1, 'cast(' ~ event_at ~ ' as date)') }} as date)
{%- endmacro %}

{#
    What is summed over the sessions of each window, per customer and as-of date: each
    metric's value for one session, from its product_views, add_to_carts and has_checkout.
#}
{% macro session_window_metrics() -%}
    {{ return({
        'sessions': '1',
        'product_views': 'product_views',
        'add_to_carts': 'add_to_carts',
        'cart_sessions': 'case when add_to_carts > 0 then 1 else 0 end',
        'abandoned_cart_sessions': 'case when add_to_carts > 0 and has_checkout = 0 then 1 else 0 end',
    }) }}
{%- endmacro %}

{# Every column of a customer feature row, in order: the features, then the RFM scores. #}
{% macro scored_customer_feature_columns() -%}
    {{ return(customer_feature_columns() + ['recency_score', 'frequency_score', 'monetary_score']) }}
{%- endmacro %}

{# The feature columns of ml_customer_features before its scores, in order. #}
{% macro customer_feature_columns() -%}
    {%- set windows = feature_windows() -%}
    {%- set longest = windows | max -%}
    {%- set columns = [
        'customer_id', 'as_of_date', 'segment', 'country_code', 'is_marketing_opt_in',
        'tenure_days', 'orders_lifetime', 'days_since_last_order',
    ] -%}
    {%- for days in windows -%}
        {%- for name in ['orders', 'revenue_eur', 'avg_order_value_eur', 'sessions',
                         'add_to_cart_rate', 'cart_abandonment_rate'] -%}
            {%- do columns.append(name ~ '_' ~ days ~ 'd') -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- do columns.extend([
        'distinct_categories_' ~ longest ~ 'd', 'favourite_category_' ~ longest ~ 'd',
        'return_rate_' ~ longest ~ 'd', 'last_order_placed_at', 'last_event_at',
    ]) -%}
    {{ return(columns) }}
{%- endmacro %}
