"""Resources shared by the warehouse's assets and jobs."""

from __future__ import annotations

from dagster_dbt import DbtCliResource

from orchestration.project import DBT_EXECUTABLE, warehouse_project

dbt_resource = DbtCliResource(project_dir=warehouse_project, dbt_executable=str(DBT_EXECUTABLE))
