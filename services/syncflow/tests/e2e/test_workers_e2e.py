"""Three ``syncflow worker`` processes on one database, one of them killed mid-batch:
every batch completes exactly once, the killed one taken over and resumed from its
checkpoint, the targets end equal to the sources, and no entity ever has two
running batches."""

import asyncio
import signal
import subprocess
from collections import Counter
from typing import Any

import pytest

ITEMS = ("alpha", "beta", "gamma", "delta")
ROWS = 3000
PAGE_SIZE = 100


async def own(world, sql: str, *args: Any) -> list[Any]:
    """A query on SyncFlow's own database."""
    async with world.app.state.database.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        return list(await driver.fetch(sql, *args))


async def add_items_entity(world, name: str) -> None:
    """An ERP table of ``ROWS`` rows, its APISmith API, and a SyncFlow entity reading it."""
    await world.erp(
        f"CREATE TABLE {name} (item_no varchar(20) PRIMARY KEY, label text, "
        "amount numeric(12, 2), rowversion bigint NOT NULL DEFAULT nextval('rv'))"
    )
    await world.erp(
        f"INSERT INTO {name} (item_no, label, amount) "
        "SELECT 'I-' || lpad(i::text, 6, '0'), 'item ' || i, i * 1.25 "
        "FROM generate_series(1, $1) i",
        ROWS,
    )
    await world.add_api(name, f"SELECT item_no, label, amount, rowversion FROM {name}")
    entity = await world.client.post(
        "/api/v1/entities",
        json={
            "name": name,
            "source": "erp",
            "api_slug": f"{world.prefix}-{name}",
            "page_size": PAGE_SIZE,
        },
    )
    assert entity.status_code == 201, entity.text


async def watch_running(world, stop: asyncio.Event, seen: list[Counter[str]]) -> None:
    """Sample the running batches per entity until ``stop``."""
    while not stop.is_set():
        rows = await own(
            world,
            "SELECT entity_name, count(*) FROM sync_batches WHERE status = 'running' GROUP BY 1",
        )
        seen.append(Counter({row[0]: row[1] for row in rows}))
        await asyncio.sleep(0.01)


@pytest.mark.no_worker
async def test_three_workers_one_killed_every_batch_completes_exactly_once(
    world, spawn_worker, tmp_path
):
    # started first: they take a few seconds to come up, meanwhile the work is defined
    workers = [spawn_worker(tmp_path / f"worker-{i}.log") for i in range(3)]
    stop = asyncio.Event()
    seen: list[Counter[str]] = []
    watcher = asyncio.create_task(watch_running(world, stop, seen))
    try:
        for name in ITEMS:
            await add_items_entity(world, name)
        batches = {name: await world.start(name, mode="full") for name in ITEMS}
        # kill the first worker seen holding a running batch half way through it
        deadline = asyncio.get_running_loop().time() + 45
        victim = None
        while victim is None:
            assert asyncio.get_running_loop().time() < deadline, "no worker got going"
            running = await own(
                world,
                "SELECT uid, lease_owner, (counters->>'fetched')::int FROM sync_batches "
                "WHERE status = 'running'",
            )
            for uid, owner, fetched in running:
                process = next((w for w in workers if f":{w.pid}:" in owner), None)
                if process is not None and 5 * PAGE_SIZE <= fetched <= ROWS - 10 * PAGE_SIZE:
                    process.send_signal(signal.SIGKILL)
                    process.wait(timeout=10)
                    victim = (str(uid), owner, fetched)
                    break
            else:
                await asyncio.sleep(0.02)

        finals = {name: await world.wait(uid, timeout=45) for name, uid in batches.items()}
    finally:
        stop.set()
        await watcher
        for process in workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in workers:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("*.log"))
    # no moment with two running batches of one entity; several entities ran side by side
    assert all(max(sample.values(), default=0) <= 1 for sample in seen), logs
    assert max(sum(sample.values()) for sample in seen) >= 2, logs

    killed_uid, killed_owner, killed_at = victim
    for name, final in finals.items():
        assert final["status"] == "completed", (final["error"], final, logs)
        # each source row read once in total: the killed batch resumed after its last
        # committed chunk instead of starting over (or reading a chunk twice)
        assert final["counters"]["fetched"] == ROWS, (name, final["counters"])
        assert final["counters"]["inserted"] == ROWS, (name, final["counters"])
        assert (await world.verify(name))["equal"] is True, name
    owner = await own(
        world, "SELECT lease_owner FROM sync_batches WHERE uid = $1::uuid", killed_uid
    )
    assert owner[0][0] != killed_owner  # another worker finished it
    assert killed_at > 0
    history = (await world.client.get("/api/v1/sync/history")).json()
    assert Counter(item["status"] for item in history["items"]) == {"completed": len(ITEMS)}
