{#-
    The k-anonymous generalisation of the serving features' quasi-identifiers, which
    export_customer_features_latest writes: as ml_training_set_generalisations, for the rows
    of ml_customer_features_latest.
-#}
{{ k_anonymity_generalisations(ref('ml_customer_features_latest')) }}
