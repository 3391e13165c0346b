"""``bridge-demo --once`` end to end: real APISmith and SyncFlow servers on free ports,
test databases instead of the demo's own, and the numbers a newcomer sees."""

import socket

import pytest
from rich.console import Console

from apismith.settings import Settings as ApiSmithSettings
from bridge_core.testing.live_server import free_port
from bridge_demo.catalog import ENTITY_NAMES
from bridge_demo.command import run_demo
from bridge_demo.erp_rows import BAD_ROWS, LATE_PARTS, sample_erp
from bridge_demo.errors import DemoError
from bridge_demo.plan import DemoCredentials, DemoPlan
from bridge_demo.servers import check_port_free
from schedulehub_standin.settings import Settings as ScheduleHubSettings
from syncflow.settings import Settings as SyncFlowSettings

ADDS_UP = ("inserted", "updated", "unchanged", "failed", "duplicate", "pending")


@pytest.fixture
async def plan(create_database, tmp_path):
    credentials = DemoCredentials.generate()
    apismith_db = await create_database("demo_apismith")
    syncflow_db = await create_database("demo_syncflow")
    return DemoPlan(
        apismith=ApiSmithSettings(
            environment="test",
            database_url=apismith_db.render_as_string(hide_password=False),
            data_dir=tmp_path,
            port=free_port(),
            secret_key="demo-test-secret-key-long-enough-for-hs256",
            encryption_key="demo-test-encryption-key",
            admin_username=credentials.admin_username,
            admin_password=credentials.admin_password,
            log_file=False,
        ),
        syncflow=SyncFlowSettings(
            environment="test",
            database_url=syncflow_db.render_as_string(hide_password=False),
            data_dir=tmp_path,
            port=free_port(),
            secret_key="demo-test-syncflow-secret-key-long-enough",
            encryption_key="demo-test-syncflow-encryption-key",
            admin_token=credentials.operator_token,
            log_file=False,
        ),
        schedulehub=ScheduleHubSettings(
            environment="test",
            database_url=(await create_database("demo_schedulehub")).render_as_string(
                hide_password=False
            ),
            port=free_port(),
            password=credentials.schedulehub_password,
            log_file=False,
        ),
        erp_url=await create_database("demo_erp"),
        credentials=credentials,
    )


def by_entity(statuses):
    return {status.entity: status.counters for status in statuses}


async def test_demo_syncs_the_sample_erp_twice_and_shows_the_numbers(plan):
    console = Console(record=True, width=200)
    report = await run_demo(plan, console=console, once=True)

    assert report.ok
    erp = sample_erp()
    assert [s.entity for s in report.first] == ENTITY_NAMES
    first = by_entity(report.first)
    rows = {
        "sites": len(erp.sites),
        "work_centers": len(erp.work_centers),
        "inventory_parts": len(erp.inventory_parts),
        "shop_orders": len(erp.shop_orders),
        "shop_order_operations": len(erp.operations),
    }
    for entity, counters in first.items():
        assert counters["fetched"] == rows[entity], entity
        assert counters["failed"] == BAD_ROWS[entity], entity
        assert counters["fetched"] == sum(counters[k] for k in ADDS_UP), entity
        assert counters["inserted"] > 0
    # shop orders whose part is not there yet are parked, and so are their operations
    assert first["shop_orders"]["pending"] == len(LATE_PARTS)
    late_operations = sum(1 for op in erp.operations if int(op[0]) >= 100950)
    assert first["shop_order_operations"]["pending"] == late_operations

    incremental = by_entity(report.incremental)
    expected = report.changes.expected()
    # the late parts free their parked orders, and those free their parked operations,
    # all in the parts' batch
    expected["inventory_parts"]["resolved"] += late_operations
    for entity, changed in expected.items():
        counters = incremental[entity]
        for counter in ("inserted", "updated", "deleted", "resolved"):
            assert counters[counter] == changed[counter], (entity, counter, counters)
        assert counters["pending"] == 0, entity
        assert counters["fetched"] == sum(counters[k] for k in ADDS_UP), entity
    assert incremental["inventory_parts"]["resolved"] == len(LATE_PARTS) + late_operations
    assert report.pending_children == 0

    for check in report.verify:
        assert (check.missing, check.extra, check.different) == (BAD_ROWS[check.entity], 0, 0)
    assert report.failures.total == sum(BAD_ROWS.values())
    # every change reached ScheduleHub: it holds exactly the target's live rows
    assert report.delivered.dead == 0
    assert report.delivered.records == {check.entity: check.target_rows for check in report.verify}

    shown = console.export_text()
    assert "first sync (mode full)" in shown
    assert f"incremental sync after {report.changes.total()} ERP changes" in shown
    assert f"http://127.0.0.1:{plan.apismith.port}/api/v1/docs" in shown
    assert f"http://127.0.0.1:{plan.syncflow.port}/api/v1/docs" in shown
    assert f"http://127.0.0.1:{plan.syncflow.port}/console" in shown
    assert f"http://127.0.0.1:{plan.apismith.port}/console" in shown
    assert plan.credentials.admin_password in shown
    assert plan.credentials.operator_token in shown
    assert "delivered to ScheduleHub" in shown
    schedulehub = f"http://127.0.0.1:{plan.schedulehub.port}"
    assert f"the ScheduleHub stand-in at {schedulehub}; dead letters: 0" in shown
    assert "Ctrl-C" not in shown


def test_a_taken_port_is_named_with_the_option_that_moves_it():
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with pytest.raises(DemoError, match=f"port {port} .* --apismith-port"):
            check_port_free("127.0.0.1", port, what="APISmith", option="--apismith-port")
