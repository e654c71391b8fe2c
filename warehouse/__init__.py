"""The warehouse's library: everything the Dagster code location (orchestration/) and the
command-line tools use that is not a Dagster definition. It imports nothing from Dagster."""
