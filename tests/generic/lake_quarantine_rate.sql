{#
    On a staging model of a lake source: the days of its source whose quarantined rows
    exceed `max_rows` and `max_share` of the rows landed (audit.row_count_reconciliation,
    which the model's post-hook has just rewritten). Give it warn_if / error_if to tolerate
    a few such days.
#}
{% test lake_quarantine_rate(model, max_rows=5, max_share=0.05) %}
    {%- set source = staged_lake_source(model_node_of_relation(model)) if execute else none -%}
    select
        source_system,
        source_name,
        ingest_date,
        rows_landed,
        rows_quarantined
    from {{ lake_audit_relation('row_count_reconciliation') }}
    where
        {% if source is not none -%}
            {{ source_is(source) }}
        {%- else -%}
            false
        {%- endif %}
        and rows_quarantined > {{ max_rows }}
        and rows_quarantined > {{ max_share }} * rows_landed
{% endtest %}
