{#-
    Customers' events summed per session, landing day and event day: every event of such a
    part is on the same side of each as-of moment (midnight) and of each window start
    (midnight), so the sessions feature group (ml_customer_features__sessions) takes a part wholly in
    or wholly out, and joins parts instead of events: the same sessions with a fraction of
    the rows. Incremental by landing day, like the events it reads, so a daily run sums
    one day of events here, and the feature query reads the parts of its windows instead
    of grouping every event of its longest window (90 days) again (bench/RESULTS.md).
-#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='_ingest_date') }}

select
    customer_id,
    session_id,
    _ingest_date,
    cast(event_at as date) as event_date,
    min(event_at) as first_event_at,
    max(event_at) as last_event_at,
    -- bigint, not the 128-bit integer DuckDB sums integers into, which is slow to read back
    cast(
        sum(case when event_type = 'page_view' and product_id is not null then 1 else 0 end)
        as {{ dbt.type_bigint() }}
    ) as product_views,
    cast(sum(case when event_type = 'add_to_cart' then 1 else 0 end) as {{ dbt.type_bigint() }})
        as add_to_carts,
    max(case when event_type = 'checkout' then 1 else 0 end) as has_checkout
from {{ ref('stg_shop__events') }}
where
    customer_id is not null
    and {{ incremental_window('_ingest_date') }}
group by customer_id, session_id, _ingest_date, cast(event_at as date)
