"""Schedules end to end on a simulated clock: a window across midnight that a run never
starts outside of, stops at (at a chunk boundary, progress committed) and resumes in; and
a background sync spread over several nights that ends equal to the source."""

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from syncflow.worker import scheduled

BERLIN = ZoneInfo("Europe/Berlin")
ADDS_UP = ("inserted", "updated", "unchanged", "failed", "duplicate", "pending")


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


async def clean_parts(world, *, total: int, page_size: int) -> None:
    """``parts`` with ``total`` good rows (the bad ones removed, so verify can say equal)."""
    await world.erp("DELETE FROM parts WHERE part_no IS NULL OR part_no = 'P-BAD'")
    await world.erp(
        "INSERT INTO parts (part_no, description, unit_cost, qty, created) "
        "SELECT 'X-' || lpad(i::text, 6, '0'), 'bulk ' || i, (i % 90)::text, i % 7, '2025-03-01' "
        "FROM generate_series(1, $1) i",
        total - 5,
    )
    await world.set_parts_page_size(page_size)


async def schedule(world, **body: Any) -> dict[str, Any]:
    response = await world.client.post("/api/v1/schedules", json={"entity": "parts", **body})
    assert response.status_code == 201, response.text
    return response.json()


async def enqueue(world) -> int:
    """The worker's scheduler job, now (it also runs by itself every second)."""
    queued = await scheduled.enqueue_due_runs(ctx=world.app.state.executor.ctx)
    world.app.state.executor.wake()
    return queued


async def wait_for(
    world, batch_uid: str, condition: Callable[[dict[str, Any]], bool], timeout: float = 30
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status = (await world.client.get(f"/api/v1/sync/status/{batch_uid}")).json()
        if condition(status):
            return status
        assert status["status"] not in ("completed", "failed", "cancelled"), status
        assert asyncio.get_running_loop().time() < deadline, status
        await asyncio.sleep(0.01)


async def resume_at(world, when: datetime) -> None:
    world.clock.set(when)
    world.app.state.executor.wake()


def paused_batch(status: dict[str, Any]) -> bool:
    return status["status"] == "pending" and status["not_before"] is not None


def balanced(counters: dict[str, int]) -> bool:
    return counters["fetched"] == sum(counters[k] for k in ADDS_UP)


async def test_a_window_across_midnight_bounds_a_run_which_resumes_the_next_night(world):
    world.clock.set(berlin("2025-06-10T12:00"))
    await clean_parts(world, total=3000, page_size=100)
    created = await schedule(
        world,
        mode="full",
        interval_seconds=86400,
        timezone="Europe/Berlin",
        window_start="19:00",
        window_end="07:00",
    )
    # created at noon: the first run waits for the window
    assert moment(created["next_run_at"]) == berlin("2025-06-10T19:00")
    assert await enqueue(world) == 0

    world.clock.set(berlin("2025-06-10T19:00"))
    assert await enqueue(world) == 1
    history = (await world.client.get("/api/v1/sync/history?entity=parts")).json()
    batch = history["items"][0]["batch_uid"]

    running = await wait_for(world, batch, lambda s: s["counters"]["fetched"] >= 300)
    assert running["stop_at"] is not None
    assert moment(running["stop_at"]) == berlin("2025-06-11T07:00")

    # the night ends while it runs: it stops at the next chunk boundary, paused till tonight
    world.clock.set(berlin("2025-06-11T07:00"))
    paused = await wait_for(world, batch, paused_batch)
    counters = paused["counters"]
    assert 300 <= counters["fetched"] < 3000
    assert balanced(counters)
    assert moment(paused["not_before"]) == berlin("2025-06-11T19:00")
    assert moment(paused["progress"]["paused_until"]) == berlin("2025-06-11T19:00")
    assert paused["stop_at"] is None
    assert 0 < paused["progress"]["percent"] < 100
    # what it read is committed in the target
    loaded = await world.target("SELECT count(*) FROM erp.parts")
    assert loaded[0][0] == counters["inserted"]

    # a paused batch is not claimed during the day, and still blocks a second one
    await asyncio.sleep(1.5)
    still = (await world.client.get(f"/api/v1/sync/status/{batch}")).json()
    assert (still["status"], still["counters"]["fetched"]) == ("pending", counters["fetched"])
    assert (
        await world.client.post("/api/v1/sync/start", json={"entity": "parts"})
    ).status_code == 409
    stats = (await world.client.get("/api/v1/monitoring/stats")).json()
    parts = next(e for e in stats["entities"] if e["entity"] == "parts")
    assert parts["active_status"] == "pending"
    assert moment(parts["active_progress"]["paused_until"]) == berlin("2025-06-11T19:00")

    await resume_at(world, berlin("2025-06-11T19:00"))
    final = await world.wait(batch)
    assert final["status"] == "completed", final
    # resumed from its checkpoint: every source row read exactly once
    assert final["counters"]["fetched"] == 3000
    assert final["counters"]["inserted"] == 3000
    assert (await world.verify("parts"))["equal"] is True


async def test_a_background_sync_reads_a_daily_portion_each_night_and_ends_equal(world):
    # the nights cross the change to summer time (30 March 2025)
    world.clock.set(berlin("2025-03-28T18:00"))
    await clean_parts(world, total=290, page_size=50)
    await schedule(
        world,
        mode="full",
        interval_seconds=7 * 86400,
        timezone="Europe/Berlin",
        window_start="19:00",
        window_end="07:00",
        days_to_complete=3,
    )
    world.clock.set(berlin("2025-03-28T19:30"))
    assert await enqueue(world) == 1
    history = (await world.client.get("/api/v1/sync/history?entity=parts")).json()
    batch = history["items"][0]["batch_uid"]

    nights = [berlin("2025-03-29T19:00"), berlin("2025-03-30T19:00")]
    for night, next_night in enumerate(nights, start=1):
        paused = await wait_for(
            world, batch, lambda s, n=night: paused_batch(s) and s["progress"].get("day") == n
        )
        progress = paused["progress"]
        # ceil(290 / 3) = 97 rows a night, read in pages of 50
        assert (progress["rows_per_day"], progress["day"], progress["days_to_complete"]) == (
            97,
            night,
            3,
        )
        assert paused["counters"]["fetched"] == 100 * night
        assert progress["percent"] == round(100 * night * 100 / 290, 1)
        assert moment(paused["not_before"]) == next_night
        finish = moment(progress["estimated_finish"]).astimezone(BERLIN)
        # the rest fits into the third night
        assert (finish.date().isoformat(), finish.hour) == ("2025-03-30", 19)
        await resume_at(world, next_night + timedelta(minutes=30))

    final = await world.wait(batch)
    assert final["status"] == "completed", final
    assert final["counters"]["fetched"] == 290
    assert final["progress"]["percent"] == 100
    history = (await world.client.get("/api/v1/sync/history?entity=parts")).json()
    assert history["total"] == 1
    assert (await world.verify("parts"))["equal"] is True
