{#-
    The k-anonymous generalisation of the quasi-identifiers of the serving features (ml_customer_features_latest): for each
    level-0 combination of age band, country and postal prefix among its rows, the values
    export_customer_features_latest writes (macros/k_anonymity.sql). A small table of its own, not a CTE of the
    export: DuckDB cannot estimate the size of the generalisation, and inside one query it
    took the whole set of rows as the side of the join to hold in memory, which ran out of
    a 2 GiB limit at benchmark scale L.
-#}
{{ k_anonymity_generalisations(ref('ml_customer_features_latest')) }}
