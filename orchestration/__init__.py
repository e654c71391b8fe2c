"""Dagster code location for the warehouse: the dbt project as assets, and its automation."""
