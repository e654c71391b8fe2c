{#-
    Every email address (as its keyed pseudonym) each customer has had, and the first day
    the warehouse knew it: the day the first customer record carrying it landed. Joins the
    support feed's tickets, which name customers only by the address they wrote from, to
    customer ids, cut at the as-of date like every other input.
-#}
select
    customer_id,
    email_pseudonym,
    min(_ingest_date) as first_landed_on
from {{ ref('stg_shop__customers') }}
where email_pseudonym is not null
group by customer_id, email_pseudonym
