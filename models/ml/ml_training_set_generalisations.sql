{#-
    The k-anonymous generalisation of the training set's quasi-identifiers: for each level-0
    combination of age band, country and postal prefix among the rows of ml_training_set,
    the values export_training_set writes (macros/k_anonymity.sql).
    A small table of its own rather than a CTE of the export: DuckDB cannot estimate how few
    rows the generalisation has, and inside one query it chose the whole training set as the
    side of the join to hold in memory.
-#}
{{ k_anonymity_generalisations(ref('ml_training_set')) }}
