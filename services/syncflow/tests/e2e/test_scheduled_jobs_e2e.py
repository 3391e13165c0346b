"""The worker's periodic jobs on a simulated clock: parked children retried with backoff
and given up, failed records retried with backoff up to max_retries, old history pruned."""

from datetime import datetime, timedelta
from typing import Any

from syncflow.worker import scheduled


def moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def ctx(world):
    return world.app.state.executor.ctx


async def run_queued(world, mode: str, entity: str) -> dict[str, Any]:
    """Wait for the newest batch of ``mode`` for ``entity`` (a job queued it) to end."""
    world.app.state.executor.wake()
    history = (await world.client.get(f"/api/v1/sync/history?entity={entity}")).json()
    batch = next(item for item in history["items"] if item["mode"] == mode)
    return await world.wait(batch["batch_uid"])


async def parked(world) -> list[dict[str, Any]]:
    return (await world.client.get("/api/v1/monitoring/pending-children")).json()["items"]


async def failures(world, entity: str, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in {"entity": entity, **filters}.items())
    return (await world.client.get(f"/api/v1/monitoring/failed-records?{query}")).json()["items"]


async def test_parked_children_are_retried_with_backoff_then_given_up(world):
    world.settings.pending_max_retries = 2
    await world.sync("parts")
    orders = await world.sync("shop_orders")
    assert orders["counters"]["pending"] == 1
    [child] = await parked(world)
    assert child["attempts"] == 0

    # not due yet: nothing is queued
    assert await scheduled.retry_pending_children(ctx=ctx(world)) == 0

    world.clock.set(moment(child["next_retry_at"]) + timedelta(seconds=1))
    assert await scheduled.retry_pending_children(ctx=ctx(world)) == 1
    first = await run_queued(world, "resolve", "shop_orders")
    assert first["status"] == "completed", first
    assert {k: first["counters"][k] for k in ("fetched", "pending", "failed", "resolved")} == {
        "fetched": 1,
        "pending": 1,
        "failed": 0,
        "resolved": 0,
    }
    [child] = await parked(world)
    # the wait doubles: 30 s before the first retry, 60 s before the second
    assert child["attempts"] == 1
    assert moment(child["next_retry_at"]) == world.clock() + timedelta(seconds=60)

    world.clock.advance(timedelta(seconds=61))
    assert await scheduled.retry_pending_children(ctx=ctx(world)) == 1
    second = await run_queued(world, "resolve", "shop_orders")
    assert (second["counters"]["pending"], second["counters"]["failed"]) == (0, 1)
    assert await parked(world) == []
    [gave_up] = await failures(world, "shop_orders", stage="resolve")
    assert "P-LATE" in gave_up["error"]
    assert "after 2 attempts" in gave_up["error"]
    assert gave_up["raw_data"]["order_no"] == "SO-3"

    # it had its retries as a parked child: no automatic retry of the failed record
    world.clock.advance(timedelta(days=1))
    # (only the parts' bad rows are retried)
    assert await scheduled.retry_failed_records(ctx=ctx(world)) == 1
    await run_queued(world, "retry", "parts")
    history = (await world.client.get("/api/v1/sync/history?entity=shop_orders")).json()
    assert [item["mode"] for item in history["items"]].count("retry") == 0

    # the parent arrives; an operator's retry of failed records loads the child
    await world.erp(
        "INSERT INTO parts (part_no, description, unit_cost, qty, created) "
        "VALUES ('P-LATE', 'late part', '2', 1, '2025-02-01')"
    )
    await world.sync("parts")
    response = await world.client.post("/api/v1/sync/retry-failed", json={"entity": "shop_orders"})
    assert response.status_code == 202
    retried = await world.wait(response.json()["batch_uid"])
    assert retried["counters"]["inserted"] == 1
    assert await failures(world, "shop_orders") == []
    assert (await world.verify("shop_orders"))["equal"] is True


async def test_failed_records_are_retried_with_backoff_up_to_max_retries(world):
    world.settings.max_retries = 2
    start = datetime.fromisoformat("2025-06-10T12:00:00+00:00")
    world.clock.set(start)
    await world.sync("parts")
    records = await failures(world, "parts")
    assert len(records) == 2
    # one minute before the first automatic retry
    assert {moment(r["next_retry_at"]) for r in records} == {start + timedelta(minutes=1)}
    assert await scheduled.retry_failed_records(ctx=ctx(world)) == 0

    world.clock.set(start + timedelta(minutes=1))
    assert await scheduled.retry_failed_records(ctx=ctx(world)) == 1
    retried = await run_queued(world, "retry", "parts")
    # the stored rows are still bad: they fail again, counted once each
    assert (retried["counters"]["fetched"], retried["counters"]["failed"]) == (2, 2)
    records = await failures(world, "parts")
    assert [r["retry_count"] for r in records] == [1, 1]
    assert {moment(r["next_retry_at"]) for r in records} == {world.clock() + timedelta(minutes=2)}

    world.clock.advance(timedelta(minutes=2))
    assert await scheduled.retry_failed_records(ctx=ctx(world)) == 1
    await run_queued(world, "retry", "parts")
    records = await failures(world, "parts")
    # max_retries reached: they stay open for an operator, not retried by themselves
    assert [(r["retry_count"], r["next_retry_at"]) for r in records] == [(2, None), (2, None)]
    world.clock.advance(timedelta(days=30))
    assert await scheduled.retry_failed_records(ctx=ctx(world)) == 0


async def test_history_older_than_the_retention_is_pruned(world):
    await world.sync("parts")
    await world.erp("UPDATE parts SET unit_cost = '10' WHERE part_no = 'P-BAD'")
    await world.sync("parts", mode="full")  # closes the P-BAD failure
    resolved = await failures(world, "parts", include_resolved="true")
    assert sum(1 for r in resolved if r["resolved_at"]) == 1

    retention = timedelta(days=world.settings.history_retention_days)
    world.clock.set(datetime.now().astimezone() + retention - timedelta(hours=1))
    assert await scheduled.prune_history(ctx=ctx(world)) == 0
    world.clock.advance(timedelta(hours=2))
    # two batches and the resolved failure; the open one stays
    assert await scheduled.prune_history(ctx=ctx(world)) == 3
    assert (await world.client.get("/api/v1/sync/history")).json()["total"] == 0
    remaining = await failures(world, "parts", include_resolved="true")
    assert [r["resolved_at"] for r in remaining] == [None]
