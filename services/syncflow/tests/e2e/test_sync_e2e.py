"""The pipeline end to end: real APISmith over a messy ERP schema, SyncFlow into PostgreSQL."""

import threading
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import httpx


def balanced(counters: dict[str, int]) -> bool:
    accounted = ("inserted", "updated", "unchanged", "failed", "duplicate", "pending")
    return counters["fetched"] == sum(counters[k] for k in accounted)


async def test_first_sync_loads_clean_rows_and_keeps_bad_ones(world):
    status = await world.sync("parts")
    assert status["status"] == "completed", status
    counters = status["counters"]
    assert counters["fetched"] == 7
    assert counters["inserted"] == 5
    assert counters["failed"] == 2
    assert balanced(counters)

    rows = {
        r["part_no"]: r
        for r in await world.target(
            "SELECT part_no, description, unit_cost, qty, created_at FROM erp.parts"
        )
    }
    assert set(rows) == {"P-001", "P-002", "P-003", "P-004", "P-005"}
    assert rows["P-001"]["description"] == "Schraube M8 – verzinkt"
    assert rows["P-001"]["unit_cost"] == Decimal("10000")
    assert rows["P-002"]["description"] == "Mutter\nM8"
    assert rows["P-002"]["unit_cost"] == Decimal("1000.50")
    assert rows["P-003"]["unit_cost"] == Decimal("-100")
    assert rows["P-004"]["unit_cost"] == Decimal("1000")
    assert rows["P-005"]["description"] is None
    # 31-DEC-25 (RR rule: 2025) and 08.12.2025 10:30 are read in the source timezone
    assert rows["P-001"]["created_at"] == datetime(2025, 12, 30, 23, 0, tzinfo=UTC)
    assert rows["P-002"]["created_at"] == datetime(2025, 12, 8, 9, 30, tzinfo=UTC)
    # 01-JAN-99 is 1999 by the RR rule; midnight in Berlin is 23:00 UTC the day before
    assert rows["P-005"]["created_at"] == datetime(1998, 12, 31, 23, 0, tzinfo=UTC)

    failed = (await world.client.get("/api/v1/monitoring/failed-records?entity=parts")).json()
    assert failed["total"] == 2
    stages = sorted(item["stage"] for item in failed["items"])
    assert stages == ["normalize", "validate"] or len(stages) == 2
    errors = " ".join(item["error"] for item in failed["items"])
    assert "unit_cost" in errors
    assert "part_no" in errors
    raw = [item["raw_data"] for item in failed["items"]]
    assert {"part_no": "P-BAD", "description": "bad cost"}.items() <= next(
        r for r in raw if r["part_no"] == "P-BAD"
    ).items()


async def test_incremental_sync_picks_up_changes_after_the_cursor(world):
    first = await world.sync("parts")
    assert first["cursor_end"] is not None

    again = await world.sync("parts")
    assert again["status"] == "completed"
    # only the rows at the cursor are re-read, and nothing changed
    assert again["counters"]["inserted"] == 0
    assert again["counters"]["updated"] == 0
    # the cursor passed the bad rows too: only the last one is re-read, and fails again
    assert (
        again["counters"]["fetched"] == again["counters"]["unchanged"] + again["counters"]["failed"]
    )
    assert again["counters"]["fetched"] <= 2

    await world.erp(
        "UPDATE parts SET qty = 99, rowversion = nextval('rv') WHERE part_no IN ('P-001', 'P-003')"
    )
    await world.erp(
        "INSERT INTO parts (part_no, description, unit_cost, qty, created) "
        "VALUES ('P-006', 'new', '1', 1, '2025-01-01')"
    )
    changed = await world.sync("parts")
    counters = changed["counters"]
    assert counters["updated"] == 2
    assert counters["inserted"] == 1
    assert balanced(counters)
    qty = {r[0]: r[1] for r in await world.target("SELECT part_no, qty FROM erp.parts")}
    assert qty["P-001"] == Decimal("99")
    assert qty["P-006"] == Decimal("1")

    report = await world.verify("parts")
    # the two bad rows are in the source and not in the target
    assert report["missing"] == 2
    assert report["extra"] == 0
    assert report["different"] == 0


async def test_children_before_parents_are_parked_then_resolved(world):
    await world.sync("parts")
    orders = await world.sync("shop_orders")
    assert orders["counters"]["inserted"] == 2
    assert orders["counters"]["pending"] == 1
    pending = (await world.client.get("/api/v1/monitoring/pending-children")).json()
    assert pending["total"] == 1
    assert pending["items"][0]["parent_key"] == ["P-LATE"]

    await world.erp(
        "INSERT INTO parts (part_no, description, unit_cost, qty, created) "
        "VALUES ('P-LATE', 'late part', '2', 1, '2025-02-01')"
    )
    parts = await world.sync("parts")
    assert parts["counters"]["resolved"] == 1
    assert (await world.client.get("/api/v1/monitoring/pending-children")).json()["total"] == 0

    linked = await world.target(
        "SELECT o.order_no, p.part_no FROM erp.shop_orders o "
        "JOIN erp.parts p ON p._bridge_uid = o.parts_uid ORDER BY o.order_no"
    )
    assert [(r[0], r[1]) for r in linked] == [
        ("SO-1", "P-001"),
        ("SO-2", "P-002"),
        ("SO-3", "P-LATE"),
    ]


async def test_hash_strategy_writes_only_changes_and_soft_deletes(world):
    await world.sync("parts")
    await world.sync("shop_orders")
    first = await world.sync("operations")
    assert first["counters"]["inserted"] == 3

    await world.erp("UPDATE operations SET hours = 9 WHERE order_no = 'SO-1' AND op_no = 10")
    await world.erp("DELETE FROM operations WHERE order_no = 'SO-2'")
    # a delete of 1 of 3 rows is within a generous policy
    await world.allow_deletes("operations", max_ratio=0.5)
    second = await world.sync("operations")
    counters = second["counters"]
    assert counters["updated"] == 1
    assert counters["unchanged"] == 1
    assert counters["deleted"] == 1
    deleted = await world.target(
        "SELECT order_no FROM erp.operations WHERE _bridge_deleted_at IS NOT NULL"
    )
    assert [r[0] for r in deleted] == ["SO-2"]
    assert (await world.verify("operations"))["equal"] is True


async def test_hard_deletes_remove_only_the_rows_the_source_lost(world):
    parts = await world.sync("parts")
    await world.sync("shop_orders")
    await world.sync("operations")
    # seen keys left behind by a batch that has ended (as one cancelled while paused
    # leaves them) are dropped by the next batch that detects deletes
    leaked = f"syncflow_work.seen_{UUID(parts['batch_uid']).hex}"
    await world.target(f"CREATE UNLOGGED TABLE {leaked} (key_hash uuid NOT NULL)")
    await world.erp("DELETE FROM operations WHERE order_no = 'SO-2'")
    await world.allow_deletes("operations", max_ratio=0.5, mode="hard")
    status = await world.sync("operations")
    assert status["counters"]["deleted"] == 1
    assert status["counters"]["unchanged"] == 2
    left = await world.target("SELECT order_no, _bridge_deleted_at FROM erp.operations")
    assert sorted((r[0], r[1]) for r in left) == [("SO-1", None), ("SO-1", None)]
    # the next run finds nothing more to delete, and the batch's seen keys are gone
    again = await world.sync("operations")
    assert again["counters"]["deleted"] == 0
    for batch in (status, again):
        seen = f"syncflow_work.seen_{UUID(batch['batch_uid']).hex}"
        assert (await world.target("SELECT to_regclass($1)", seen))[0][0] is None
    assert (await world.target("SELECT to_regclass($1)", leaked))[0][0] is None


async def test_mass_delete_beyond_max_ratio_deletes_nothing_and_says_why(world):
    await world.sync("parts")
    await world.sync("shop_orders")
    await world.sync("operations")
    await world.erp("DELETE FROM operations WHERE op_no = 10")
    status = await world.sync("operations")
    assert status["status"] == "completed"
    assert status["counters"]["deleted"] == 0
    assert status["warnings"] == ["deletes skipped: 2 of 3 rows (66.7%) exceeds max_ratio 0.05"]
    live = await world.target(
        "SELECT count(*) FROM erp.operations WHERE _bridge_deleted_at IS NULL"
    )
    assert live[0][0] == 3


async def test_empty_read_never_deletes(world):
    await world.sync("parts")
    await world.sync("shop_orders")
    await world.sync("operations")
    await world.erp("DELETE FROM operations")
    status = await world.sync("operations")
    assert status["counters"]["deleted"] == 0
    live = await world.target(
        "SELECT count(*) FROM erp.operations WHERE _bridge_deleted_at IS NULL"
    )
    assert live[0][0] == 3


async def test_dry_run_counts_and_writes_nothing(world):
    status = await world.sync("parts", dry_run=True)
    assert status["dry_run"] is True
    assert status["counters"]["inserted"] == 5
    assert await world.target("SELECT * FROM erp.parts") == []
    # a dry run does not move the cursor: the real run still loads everything
    real = await world.sync("parts")
    assert real["counters"]["inserted"] == 5


async def test_retry_failed_records_after_the_source_is_fixed(world):
    await world.sync("parts")
    await world.erp("UPDATE parts SET unit_cost = '10' WHERE part_no = 'P-BAD'")
    response = await world.client.post("/api/v1/sync/retry-failed", json={"entity": "parts"})
    assert response.status_code == 202, response.text
    # the retry re-runs the stored raw row (still 'ten'): it fails again, nothing is lost
    retried = await world.wait(response.json()["batch_uid"])
    assert retried["counters"]["fetched"] == 2
    assert retried["counters"]["failed"] == 2
    open_failures = (await world.client.get("/api/v1/monitoring/failed-records")).json()
    assert open_failures["total"] == 2

    # a full re-read loads the fixed row and closes its failure
    full = await world.sync("parts", mode="full")
    assert full["counters"]["inserted"] == 1
    open_failures = (await world.client.get("/api/v1/monitoring/failed-records")).json()
    assert [item["raw_data"]["part_no"] for item in open_failures["items"]] == [None]


async def test_second_start_while_running_is_409_and_stop_cancels(world):
    await world.erp(
        "INSERT INTO parts (part_no, description, unit_cost, qty, created) "
        "SELECT 'X-' || i, 'bulk', '1', 1, '2025-01-01' FROM generate_series(1, 3000) i"
    )
    batch = await world.start("parts")
    again = await world.client.post("/api/v1/sync/start", json={"entity": "parts"})
    assert again.status_code == 409
    assert "already has a running batch" in again.json()["detail"]
    stopped = await world.client.post(f"/api/v1/sync/stop/{batch}")
    assert stopped.status_code == 200
    final = await world.wait(batch)
    assert final["status"] == "cancelled"
    # what was committed stays and adds up, under the key index the first load deferred;
    # a new run finishes the job
    assert balanced(final["counters"])
    assert await world.key_index_is_built("erp.parts")
    done = await world.sync("parts")
    assert done["status"] == "completed"
    count = await world.target("SELECT count(*) FROM erp.parts")
    assert count[0][0] == 3005


async def test_history_and_stats(world):
    await world.sync("parts")
    history = (await world.client.get("/api/v1/sync/history?entity=parts")).json()
    assert history["total"] == 1
    assert history["items"][0]["status"] == "completed"
    stats = (await world.client.get("/api/v1/monitoring/stats")).json()
    parts = next(e for e in stats["entities"] if e["entity"] == "parts")
    assert parts["open_failures"] == 2
    assert parts["last_status"] == "completed"
    assert parts["seconds_since_success"] >= 0


async def test_grandchildren_are_freed_with_their_parent_in_the_same_batch(world):
    await world.erp("INSERT INTO operations VALUES ('SO-3', 10, 'LATHE', 4)")
    await world.sync("parts")
    assert (await world.sync("shop_orders"))["counters"]["pending"] == 1
    # the operation of the parked order waits for the order
    assert (await world.sync("operations"))["counters"]["pending"] == 1

    await world.erp(
        "INSERT INTO parts (part_no, description, unit_cost, qty, created) "
        "VALUES ('P-LATE', 'late part', '2', 1, '2025-02-01')"
    )
    parts = await world.sync("parts")
    # the order and, through it, its operation
    assert parts["counters"]["resolved"] == 2
    assert (await world.client.get("/api/v1/monitoring/pending-children")).json()["total"] == 0
    linked = await world.target(
        "SELECT op.op_no FROM erp.operations op JOIN erp.shop_orders o "
        "ON o._bridge_uid = op.shop_orders_uid WHERE o.order_no = 'SO-3'"
    )
    assert [r[0] for r in linked] == [10]


async def test_rowversion_lookback_catches_a_row_that_committed_late(world):
    await world.sync("parts")
    # a transaction that took a low rowversion commits after higher ones were read
    cursor_row = await world.erp("SELECT max(rowversion) FROM parts")
    await world.erp(
        "UPDATE parts SET qty = 77, rowversion = $1 WHERE part_no = 'P-002'", cursor_row[0][0] - 3
    )
    missed = await world.sync("parts")
    assert missed["counters"]["updated"] == 0

    await world.set_parts_page_size(3, rowversion_lookback=10)
    caught = await world.sync("parts")
    assert caught["counters"]["updated"] == 1
    qty = await world.target("SELECT qty FROM erp.parts WHERE part_no = 'P-002'")
    assert qty[0][0] == Decimal("77")


async def test_a_first_load_meeting_a_key_again_on_a_later_page(world):
    """A first load COPYs pages straight into the empty target and builds its key index at
    the end; a key sent again on a later page is merged then: counted once as inserted and
    once as a duplicate, the later read wins."""
    await world.erp(
        "INSERT INTO parts (part_no, description, unit_cost, qty, created) "
        "VALUES ('P-001', 'sent again', '2', 1, '2025-01-01')"
    )
    await world.set_parts_page_size(2)
    status = await world.sync("parts")
    assert status["status"] == "completed", status
    counters = status["counters"]
    assert (counters["fetched"], counters["inserted"], counters["duplicate"]) == (8, 5, 1)
    assert counters["failed"] == 2
    rows = await world.target("SELECT description FROM erp.parts WHERE part_no = 'P-001'")
    assert [r["description"] for r in rows] == ["sent again"]
    assert await world.key_index_is_built("erp.parts")


async def test_every_failed_row_is_listed_even_when_bad_rows_share_a_key(world):
    # three rows without a business key: one hash of NULLs, three rows read; pages of
    # three put them in different chunks
    await world.erp(
        "INSERT INTO parts (part_no, description, unit_cost, qty, created) VALUES "
        "(NULL, 'no key 2', '1', 1, '2025-01-01'), (NULL, 'no key 3', '2', 1, '2025-01-01')"
    )
    await world.set_parts_page_size(3)

    for _ in range(2):  # the same bad rows read again are listed once each, not twice
        status = await world.sync("parts", mode="full")
        assert status["status"] == "completed", status
        assert status["counters"]["failed"] == 4
        batch = status["batch_uid"]
        listed = (
            await world.client.get(
                f"/api/v1/monitoring/failed-records?entity=parts&batch_uid={batch}"
            )
        ).json()
        assert listed["total"] == status["counters"]["failed"]
        open_failures = (
            await world.client.get("/api/v1/monitoring/failed-records?entity=parts")
        ).json()
        assert open_failures["total"] == 4
    descriptions = sorted(item["raw_data"]["description"] for item in listed["items"])
    assert descriptions == ["bad cost", "no key", "no key 2", "no key 3"]


async def test_verify_after_the_api_vanished_from_apismith_says_so(world):
    async with httpx.AsyncClient(base_url=world.apismith_url) as apismith:
        api = await apismith.get(
            f"/api/v1/apis/slug/{world.prefix}-parts", headers=world.apismith_headers
        )
        assert api.status_code == 200, api.text
        deleted = await apismith.delete(
            f"/api/v1/apis/{api.json()['uid']}", headers=world.apismith_headers
        )
        assert deleted.status_code == 204, deleted.text

    response = await world.client.post("/api/v1/entities/parts/verify")

    assert response.status_code == 502, response.text
    assert "no longer has the entity's API" in response.json()["detail"]


async def test_a_started_sync_runs_at_once_not_at_the_executors_next_poll(world):
    # the executor looks for work by itself only every minute here: a sync that starts
    # within seconds was woken by the request that queued it, after its commit
    executor = world.app.state.executor
    executor.poll_seconds = 60
    woken_on: list[int] = []
    wake = executor.wake

    def recorded_wake() -> None:
        woken_on.append(threading.get_ident())
        wake()

    executor.wake = recorded_wake
    await world.sync("parts")  # the executor is idle, waiting, from here on
    for _ in range(3):
        status = await world.wait(await world.start("parts"), timeout=10)
        assert status["status"] == "completed", status
    # on the event loop's thread: an asyncio.Event set from another thread may never
    # wake its waiter
    assert set(woken_on) == {threading.get_ident()}
