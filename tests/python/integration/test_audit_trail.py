"""The audit trail (audit.dbt_run_results, macros/record_run_results.sql): every build of
the suite's warehouse is there, node by node, and it is only ever appended to."""

from __future__ import annotations

WAREHOUSE_NODES = ("model", "seed", "snapshot", "test")


def builds(connection) -> list[str]:
    """Invocation ids of the `dbt build`s, oldest first."""
    return [
        row[0]
        for row in connection.execute(
            """
            select invocation_id from audit.dbt_run_results
            where dbt_command = 'build'
            group by invocation_id
            order by min(run_started_at), invocation_id
            """
        ).fetchall()
    ]


def test_every_build_is_recorded_node_by_node_with_who_when_and_which_code(warehouse) -> None:
    manifest = warehouse.manifest()
    expected = {
        uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in WAREHOUSE_NODES and node["config"].get("enabled", True)
    }
    with warehouse.connect() as connection:
        recorded = builds(connection)
        assert len(recorded) >= 1 + warehouse.daily_runs  # the backfill and each daily run
        rows = connection.execute(
            """
            select unique_id, resource_type, status, git_commit, run_by, relation_rows, failures
            from audit.dbt_run_results where invocation_id = ?
            """,
            [recorded[0]],
        ).fetchall()
    assert {row[0] for row in rows if row[1] in WAREHOUSE_NODES} == expected  # every node
    assert "unit_test" in {row[1] for row in rows}
    assert {row[3] for row in rows} == {"test-suite"}  # WAREHOUSE_GIT_COMMIT of the suite
    assert all(row[4] for row in rows)
    by_id = {row[0]: row for row in rows}
    fct_orders = by_id["model.ml_warehouse.fct_orders"]
    assert fct_orders[2] == "success" and fct_orders[5] > 0  # a table: its rows are counted
    assert by_id["model.ml_warehouse.base_shop__orders"][5] is None  # a view: not counted
    tests = [row for row in rows if row[1] == "test"]
    assert tests and {row[2] for row in tests} <= {"pass", "warn"}
    assert all(row[6] is not None for row in tests)  # how many rows each test flagged


def test_a_later_run_appends_and_leaves_earlier_rows_alone(warehouse) -> None:
    query = "select * from audit.dbt_run_results order by all"
    with warehouse.connect() as connection:
        before = connection.execute(query).fetchall()
    warehouse.dbt("test", "--select", "dim_products")
    with warehouse.connect() as connection:
        after = connection.execute(query).fetchall()
    added = [row for row in after if row not in set(before)]
    assert added and len(after) == len(before) + len(added)  # nothing changed or went
    assert {row[2] for row in added} == {"test"}  # dbt_command of the new invocation
    assert not {row[0] for row in added} & {row[0] for row in before}  # a new invocation
