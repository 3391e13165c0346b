"""A SyncFlow worker process killed mid-batch and started again loses nothing and
duplicates nothing: the batch resumes from its last committed chunk."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

BULK = 4000


def start_worker(world) -> subprocess.Popen:
    settings = world.settings
    env = {
        **os.environ,
        "SYNCFLOW_ENVIRONMENT": "test",
        "SYNCFLOW_DATABASE_URL": settings.database_url,
        "SYNCFLOW_SECRET_KEY": settings.secret_key.get_secret_value(),
        "SYNCFLOW_ENCRYPTION_KEY": settings.encryption_key.get_secret_value(),
        "SYNCFLOW_SOURCE_TIMEZONE": settings.source_timezone,
        "SYNCFLOW_LEASE_SECONDS": "3",
        "SYNCFLOW_HEARTBEAT_SECONDS": "1",
        "SYNCFLOW_LOG_FILE": "false",
        "SYNCFLOW_DATA_DIR": str(settings.data_dir),
    }
    command = [str(Path(sys.executable).parent / "syncflow"), "worker"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def fetched_so_far(world, batch_uid: str) -> int:
    status = (await world.client.get(f"/api/v1/sync/status/{batch_uid}")).json()
    return status["counters"]["fetched"]


@pytest.mark.no_worker
async def test_killed_worker_is_taken_over_and_the_target_ends_equal(world):
    await world.erp(
        "INSERT INTO parts (part_no, description, unit_cost, qty, created) "
        "SELECT 'X-' || lpad(i::text, 5, '0'), 'bulk ' || i, (i % 90)::text, i % 7, '2025-03-01' "
        "FROM generate_series(1, $1) i",
        BULK,
    )
    await world.set_parts_page_size(100)
    batch_uid = await world.start("parts")

    first = start_worker(world)
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while await fetched_so_far(world, batch_uid) < 800:
            assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
            assert asyncio.get_running_loop().time() < deadline, "worker made no progress"
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    interrupted_at = await fetched_so_far(world, batch_uid)
    assert interrupted_at < BULK + 7

    second = start_worker(world)
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
