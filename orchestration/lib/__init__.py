"""Dagster-aware helpers the definitions use, which define nothing themselves: running dbt
in a step (dbt_build), the warehouse's write lock as Dagster failures (warehouse_lock), and
`make run`'s day-by-day replay through the jobs (replay)."""
