"""A SyncFlow worker process killed mid-batch and started again loses nothing and
duplicates nothing: the batch resumes from its last committed chunk."""

import asyncio
import signal

import pytest

BULK = 4000


async def fetched_so_far(world, batch_uid: str) -> int:
    status = (await world.client.get(f"/api/v1/sync/status/{batch_uid}")).json()
    return status["counters"]["fetched"]


@pytest.mark.no_worker
async def test_killed_worker_is_taken_over_and_the_target_ends_equal(world, spawn_worker, tmp_path):
    await world.erp(
        "INSERT INTO parts (part_no, description, unit_cost, qty, created) "
        "SELECT 'X-' || lpad(i::text, 5, '0'), 'bulk ' || i, (i % 90)::text, i % 7, '2025-03-01' "
        "FROM generate_series(1, $1) i",
        BULK,
    )
    await world.set_parts_page_size(100)
    batch_uid = await world.start("parts")

    first = spawn_worker(tmp_path / "first.log", lease_seconds="3")
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while await fetched_so_far(world, batch_uid) < 800:
            assert first.poll() is None, (tmp_path / "first.log").read_text()
            assert asyncio.get_running_loop().time() < deadline, "worker made no progress"
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    interrupted_at = await fetched_so_far(world, batch_uid)
    assert interrupted_at < BULK + 7

    second = spawn_worker(tmp_path / "second.log", lease_seconds="3")
    try:
        final = await world.wait(batch_uid, timeout=120)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    assert final["status"] == "completed", final
    counters = final["counters"]
    # every source row counted exactly once across both workers
    assert counters["fetched"] == BULK + 7
    assert counters["inserted"] == BULK + 5
    assert counters["failed"] == 2
    rows = await world.target("SELECT count(*), count(DISTINCT part_no) FROM erp.parts")
    assert tuple(rows[0]) == (BULK + 5, BULK + 5)
    report = await world.verify("parts")
    assert (report["missing"], report["extra"], report["different"]) == (2, 0, 0)
