"""What an operator watches: Prometheus metrics by entity, the detailed health check,
and log lines that say which batch, entity and stage they are about."""

from typing import Any

from loguru import logger
from prometheus_client.parser import text_string_to_metric_families

from bridge_core.testing.live_server import free_port
from syncflow.worker import scheduled

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(world) -> Samples:
    response = await world.client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_count_rows_batches_and_stages_by_entity(world):
    before = await scrape(world)
    await world.sync("parts")
    await world.sync("shop_orders")
    await scheduled.refresh_metrics(
        database=world.app.state.database, target_database=world.app.state.target_database
    )
    after = await scrape(world)

    def added(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert added("syncflow_rows_total", entity="parts", operation="fetched") == 7
    assert added("syncflow_rows_total", entity="parts", operation="inserted") == 5
    assert added("syncflow_rows_total", entity="parts", operation="failed") == 2
    assert added("syncflow_rows_total", entity="shop_orders", operation="pending") == 1
    assert added("syncflow_batches_finished_total", entity="parts", status="completed") == 1
    # 7 rows in pages of 3: three chunks went through the load stage
    assert added("syncflow_stage_duration_seconds_count", entity="parts", stage="load") == 3
    assert added("syncflow_stage_duration_seconds_count", entity="parts", stage="fetch") == 3

    # read from the database at the last refresh
    assert value(after, "syncflow_batches", entity="parts", status="completed") == 1
    assert value(after, "syncflow_failed_records", entity="parts") == 2
    assert value(after, "syncflow_pending_children", entity="shop_orders") == 1
    assert ("syncflow_pending_children", frozenset({("entity", "operations")})) in after
    assert value(after, "syncflow_pending_children", entity="operations") == 0
    since = value(after, "syncflow_seconds_since_last_success", entity="parts")
    assert 0 < since < 60
    assert (
        "syncflow_seconds_since_last_success",
        frozenset({("entity", "operations")}),
    ) not in after


async def test_detailed_health_reaches_the_database_and_every_apismith(world):
    healthy = await world.client.get("/api/v1/monitoring/health/detailed")
    assert healthy.status_code == 200, healthy.text
    body = healthy.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["target_database"] is None
    [apismith] = body["apismith"]
    assert (apismith["source"], apismith["ok"], apismith["version"]) == ("erp", True, "0.1.0")

    down = await world.client.post(
        "/api/v1/sources",
        json={"name": "down", "base_url": f"http://127.0.0.1:{free_port()}", "token": "t"},
    )
    assert down.status_code == 201, down.text
    unhealthy = await world.client.get("/api/v1/monitoring/health/detailed")
    assert unhealthy.status_code == 503
    body = unhealthy.json()
    assert body["status"] == "unhealthy"
    assert body["database"]["ok"] is True
    checks = {check["source"]: check for check in body["apismith"]}
    assert checks["erp"]["ok"] is True
    assert checks["down"]["ok"] is False
    assert "ConnectError" in checks["down"]["detail"]


async def test_log_lines_carry_batch_entity_and_stage(world):
    records: list[dict[str, Any]] = []
    sink = logger.add(lambda message: records.append(message.record), level="INFO")
    try:
        await world.erp("ALTER TABLE parts RENAME TO parts_gone")
        failed = await world.sync("parts")
    finally:
        logger.remove(sink)
    assert failed["status"] == "failed"
    [error] = [r for r in records if r["message"].startswith("batch failed")]
    assert error["extra"]["batch"] == failed["batch_uid"]
    assert error["extra"]["entity"] == "parts"
    assert error["extra"]["stage"] == "fetch"
