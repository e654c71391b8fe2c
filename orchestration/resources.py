"""Resources shared by the warehouse's assets and jobs."""

from __future__ import annotations

import sys
from pathlib import Path

from dagster_dbt import DbtCliResource

from orchestration.project import warehouse_project

# The dbt installed beside this Python, so a run never picks up another dbt from PATH.
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"

dbt_resource = DbtCliResource(project_dir=warehouse_project, dbt_executable=str(DBT_EXECUTABLE))
