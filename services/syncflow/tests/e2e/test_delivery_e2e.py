"""Delivery to a real ScheduleHub stand-in over HTTP (its own PostgreSQL database): by
state through faults, per-record rejections and replay, webhooks with a wrong secret,
a paused destination catching up, and a worker killed mid-batch.

After every scenario the stand-in's live records equal the target tables (key and data
hash), no key was applied out of order, and no record was inserted twice.
"""

import asyncio
import base64
import itertools
import json
import re
import signal
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from loguru import logger
from typer.testing import CliRunner

from bridge_core.testing.live_server import free_port
from schedulehub_standin.testing import (
    schedulehub_standin,  # noqa: F401 - fixture
    schedulehub_standin_server,  # noqa: F401 - fixture
)
from services.syncflow.tests.commands_env import command_env
from services.syncflow.tests.e2e.test_arrow_lane_e2e import ROWS, add_items
from syncflow.cli import app
from syncflow.delivery.ledger import DeliveryLedger
from syncflow.delivery.ledger_admin import LedgerAdmin
from syncflow.delivery.outbox_reads import OutboxReads
from syncflow.delivery.repository import OutboxRepository
from syncflow.delivery.runner import DeliveryRunner
from syncflow.delivery.streams import StreamRepository
from syncflow.entities.service import load_spec
from syncflow.orchestration.state import RunContext
from syncflow.sync.repository import BatchRepository
from syncflow.worker import scheduled

ENTITIES = {"parts": "erp.parts", "shop_orders": "erp.shop_orders", "operations": "erp.operations"}
TABLES = {**ENTITIES, "items": "erp.items"}
WRONG_SECRET = "whsec_" + base64.b64encode(b"w" * 32).decode()
OUTBOX = "syncflow_delivery.outbox_events"


@pytest.fixture
async def standin(schedulehub_standin):  # noqa: F811 - the fixture imported above
    """The session's stand-in, reset; its faults are switched off after the test too."""
    yield schedulehub_standin
    await schedulehub_standin.control.set_faults()


async def add_schedulehub(world, standin, **extra) -> dict[str, Any]:
    body = {
        "name": "hub",
        "kind": "schedulehub",
        "url": standin.url,
        "api_prefix": standin.api_prefix,
        "username": standin.username,
        "password": standin.password,
        "timeout_s": 1,
        **extra,
    }
    response = await world.client.post("/api/v1/destinations", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def deliveries(world, **params) -> dict[str, Any]:
    response = await world.client.get("/api/v1/deliveries", params={"page_size": 500, **params})
    assert response.status_code == 200, response.text
    return response.json()


async def streams(world) -> list[dict[str, Any]]:
    response = await world.client.get("/api/v1/deliveries/streams")
    assert response.status_code == 200, response.text
    return response.json()


async def settled(world, entities=tuple(ENTITIES), timeout: float = 60) -> None:
    """Wait until every stream of ``entities`` has read all of the outbox (one
    destination) and nothing is pending or in flight."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        mine = {s["entity"]: s for s in await streams(world) if s["entity"] in entities}
        heads = dict(
            await world.target(
                f"SELECT entity, max(id) FROM {OUTBOX} WHERE entity = ANY($1::text[]) GROUP BY 1",
                list(entities),
            )
        )
        # every entity's stream: nothing waiting (loads not expanded yet count as
        # unread, so as pending) and read through the newest event
        if all(
            entity in mine
            and mine[entity]["pending"] == mine[entity]["delivering"] == 0
            and (mine[entity]["read_through"] or 0) >= heads.get(entity, 0)
            for entity in entities
        ):
            return
        assert asyncio.get_running_loop().time() < deadline, mine
        await asyncio.sleep(0.1)


async def target_state(world, entity: str) -> dict[str, str]:
    """Live target rows as hex key hash -> hex data hash (the form ScheduleHub gets)."""
    rows = await world.target(
        "SELECT replace(_bridge_key_hash::text, '-', '') AS key_hash, "
        f"encode(_bridge_data_hash, 'hex') AS data_hash FROM {TABLES[entity]} "
        "WHERE _bridge_deleted_at IS NULL"
    )
    return {r["key_hash"]: r["data_hash"] for r in rows}


async def held(standin, entity: str) -> dict[str, str]:
    return {r["erp_key_hash"]: r["erp_data_hash"] for r in await standin.control.records(entity)}


async def assert_applied_in_order_once(world, standin, entity: str) -> None:
    """Per key, what the stand-in applied is a subsequence of the key's outbox events (no
    event overtook an earlier one), and no key was inserted twice without a delete between."""
    events: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for row in await world.target(
        f"SELECT key_hash, operation, data_hash FROM {OUTBOX} WHERE entity = $1 ORDER BY id",
        entity,
    ):
        deleted = row["operation"] == "delete"
        events[row["key_hash"]].append(
            ("delete", None) if deleted else ("upsert", row["data_hash"])
        )
    log = await standin.control.log(entity=entity)
    applied: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for entry in log:
        deleted = entry["op"] == "delete"
        applied[entry["erp_key_hash"]].append(
            ("delete", None) if deleted else ("upsert", entry["erp_data_hash"])
        )
        ops = [e["op"] for e in log if e["erp_key_hash"] == entry["erp_key_hash"]]
        for before, after in itertools.pairwise(ops):
            assert (before, after) != ("insert", "insert"), f"{entry['erp_key_hash']} twice"
    for key, sequence in applied.items():
        remaining = iter(events[key])
        assert all(step in remaining for step in sequence), (key, sequence, events[key])


async def assert_delivered_exactly(world, standin, entities=tuple(ENTITIES)) -> None:
    await settled(world, entities)
    dead = (await deliveries(world, state="dead"))["items"]
    assert not dead, [(d["entity"], d["last_error"]) for d in dead]
    for entity in entities:
        assert await held(standin, entity) == await target_state(world, entity), entity
        await assert_applied_in_order_once(world, standin, entity)


async def sync_all(world, mode: str = "incremental") -> None:
    for entity in ENTITIES:
        status = await world.sync(entity, mode)
        assert status["status"] == "completed", status


async def change_the_erp(world, round_: int) -> None:
    """Updates, inserts and deletes across parents and children."""
    await world.erp(
        "UPDATE parts SET qty = qty + $1, rowversion = nextval('rv') "
        "WHERE part_no IN ('P-001', 'P-004')",
        round_,
    )
    await world.erp(
        "INSERT INTO parts (part_no, description, unit_cost, qty, created) "
        "VALUES ($1, 'new part', '1', 1, '2025-01-01')",
        f"N-{round_}",
    )
    await world.erp(
        "INSERT INTO shop_orders (order_no, part_no, qty) VALUES ($1, $2, 1)",
        f"SO-N{round_}",
        f"N-{round_}",
    )
    await world.erp("UPDATE shop_orders SET qty = qty + 1, rowversion = nextval('rv')")
    await world.erp("INSERT INTO operations VALUES ($1, 10, 'SAW', 1)", f"SO-N{round_}")
    await world.erp("DELETE FROM operations WHERE order_no = 'SO-1' AND op_no = $1", round_ * 10)
    if round_ == 2:  # a parent goes with its child
        await world.erp("DELETE FROM operations WHERE order_no = 'SO-N1'")
        await world.erp("DELETE FROM shop_orders WHERE order_no = 'SO-N1'")


async def test_a_full_and_two_incremental_syncs_arrive_exactly_through_faults(world, standin):
    await standin.control.set_rules(require_parents=True)
    await standin.control.tokens(access_token_seconds=2)
    await standin.control.set_faults(
        error_rate=0.10,
        timeout_rate=0.05,
        timeout_seconds=3,
        drop_rate=0.02,
        expire_token_rate=0.05,
        seed=7,
    )
    await add_schedulehub(world, standin, batch_size=3)
    for entity in ("shop_orders", "operations"):  # the deletes below are a large share
        await world.allow_deletes(entity, max_ratio=0.5)
    await sync_all(world, "full")
    for round_ in (1, 2):
        # delivered before the next changes: a key's insert and delete sent apart, not
        # collapsed into nothing while they wait together
        await settled(world)
        await change_the_erp(world, round_)
        await sync_all(world)
    await assert_delivered_exactly(world, standin)
    assert (await deliveries(world, state="dead"))["total"] == 0
    state = await standin.control.state()
    # (SO-1, 10), (SO-1, 20) and (SO-N1, 10); the shop order SO-N1
    assert state["applied"]["operations"]["delete"] == 3, state["applied"]
    assert state["applied"]["shop_orders"]["delete"] == 1, state["applied"]
    injected = state["faults_injected"]
    assert injected.get("error", 0) > 0, injected
    assert injected.get("timeout", 0) > 0, injected
    retried = [
        attempt
        for item in (await deliveries(world, state="delivered"))["items"]
        for attempt in item["attempts"]
        if attempt["status_code"] in (None, 503)
    ]
    assert retried, "the faults should show in the attempts"
    metrics = (await world.client.get("/metrics")).text
    assert 'syncflow_delivered_rows_total{destination="hub",entity="parts"}' in metrics


async def test_rejected_records_are_dead_letters_until_fixed_and_replayed(world, standin):
    blocked = {"entity": "parts", "field": "part_no", "equals": "P-003"}
    await standin.control.set_rules([{**blocked, "error": "part P-003 is blocked"}])
    await add_schedulehub(world, standin, entities=["parts"])
    await world.sync("parts")
    await settled(world, ["parts"])
    dead = (await deliveries(world, state="dead"))["items"]
    assert len(dead) == 1
    assert dead[0]["last_error"] == "rejected by ScheduleHub: part P-003 is blocked"
    insert = [a for a in dead[0]["attempts"] if a["request"].endswith("/parts/batch/insert")]
    assert insert
    assert "part P-003 is blocked" in insert[-1]["response"]
    assert len(await held(standin, "parts")) == 4

    await standin.control.set_rules([])
    replay = await world.client.post(
        "/api/v1/deliveries/replay", json={"destination": "hub", "state": "dead"}
    )
    assert replay.json() == {"replayed": 1}
    await assert_delivered_exactly(world, standin, entities=["parts"])
    again = await world.client.post(
        "/api/v1/deliveries/replay", json={"destination": "hub", "state": "dead"}
    )
    assert again.json() == {"replayed": 0}


async def test_a_wrong_webhook_secret_dead_letters_with_the_401_until_fixed(world, standin):
    hook = await world.client.post(
        "/api/v1/destinations",
        json={
            "name": "hook",
            "kind": "webhook",
            "url": standin.webhook_url("parts"),
            "secrets": [WRONG_SECRET],
            "entities": ["parts"],
            "timeout_s": 2,
            "batch_size": 2,
        },
    )
    assert hook.status_code == 201, hook.text
    await world.sync("parts")
    await settled(world, ["parts"])
    dead = (await deliveries(world, state="dead"))["items"]
    assert len(dead) == 5
    assert all(item["last_error"].startswith("HTTP 401") for item in dead)
    assert {a["status_code"] for item in dead for a in item["attempts"]} == {401}
    assert await held(standin, "parts") == {}

    patched = await world.client.patch(
        f"/api/v1/destinations/{hook.json()['uid']}",
        json={"secrets": [WRONG_SECRET, *standin.webhook_secrets]},
    )
    assert patched.status_code == 200, patched.text
    # one batch first (its events only), then every dead event left
    first = dead[0]["batch_uid"]
    in_first = sum(1 for item in dead if item["batch_uid"] == first)
    assert 0 < in_first < 5
    one_batch = await world.client.post(
        "/api/v1/deliveries/replay", json={"destination": "hook", "batch_uid": first}
    )
    assert one_batch.json() == {"replayed": in_first}
    rest = await world.client.post(
        "/api/v1/deliveries/replay", json={"destination": "hook", "state": "dead"}
    )
    assert rest.json() == {"replayed": 5 - in_first}
    await assert_delivered_exactly(world, standin, entities=["parts"])
    # one message per batch, each applied once (a batch keeps its webhook-id on replay)
    batches = {item["batch_uid"] for item in (await deliveries(world))["items"]}
    assert (await standin.control.state())["webhooks"] == len(batches)


async def test_a_paused_destination_catches_up_in_order(world, standin):
    hub = await add_schedulehub(world, standin)
    paused = await world.client.post(f"/api/v1/destinations/{hub['uid']}/pause", json={})
    assert paused.status_code == 200
    await sync_all(world, "full")
    for round_ in (1, 2, 3):
        await change_the_erp(world, round_)
        await sync_all(world)
    await asyncio.sleep(0.5)
    assert await held(standin, "parts") == {}
    await world.client.post(f"/api/v1/destinations/{hub['uid']}/resume")
    await assert_delivered_exactly(world, standin)


async def test_batches_of_a_stream_go_out_side_by_side_and_keep_each_keys_order(world, standin):
    # one key per batch and slow answers, so that several batches of an entity are out
    # at once while the same keys change round after round
    await standin.control.set_rules(require_parents=True)
    hub = await add_schedulehub(world, standin, batch_size=1, timeout_s=5)
    await world.client.post(f"/api/v1/destinations/{hub['uid']}/pause", json={})
    await sync_all(world, "full")
    for round_ in (1, 2):
        await change_the_erp(world, round_)
        await sync_all(world)
    await standin.control.set_faults(slow_rate=1, slow_seconds=0.1)
    await world.client.post(f"/api/v1/destinations/{hub['uid']}/resume")
    await assert_delivered_exactly(world, standin)
    spans: dict[tuple[str, str], tuple[datetime, datetime]] = {}
    for item in (await deliveries(world, state="delivered"))["items"]:
        for attempt in item["attempts"]:
            start = datetime.fromisoformat(attempt["attempted_at"])
            end = start + timedelta(milliseconds=attempt["latency_ms"])
            spans[(item["entity"], item["batch_uid"])] = (start, end)
    overlapping = [
        (a, b)
        for (a, (a_start, a_end)), (b, (b_start, b_end)) in itertools.combinations(spans.items(), 2)
        if a[0] == b[0] and a_start < b_end and b_start < a_end
    ]
    assert overlapping, "no two batches of an entity were out at once"


async def test_an_entity_is_delivered_once_no_live_sync_of_it_runs(world, standin):
    hub = await add_schedulehub(world, standin, entities=["parts"])
    await world.client.post(f"/api/v1/destinations/{hub['uid']}/pause", json={})
    await world.sync("parts")
    # a sync of parts running on another worker, whose lease is alive
    async with world.app.state.database.transaction() as conn:
        batches = BatchRepository(conn)
        running = await batches.create(entity="parts", mode="incremental", dry_run=False)
        await batches.claim(running["uid"], worker_id="elsewhere", lease_seconds=600)
    await world.client.post(f"/api/v1/destinations/{hub['uid']}/resume")
    await asyncio.sleep(3 * world.settings.delivery_poll_seconds + 0.5)
    assert await held(standin, "parts") == {}
    assert (await deliveries(world, state="delivered"))["total"] == 0
    async with world.app.state.database.transaction() as conn:
        await BatchRepository(conn).finish(running["uid"], worker_id=None, status="cancelled")
    await assert_delivered_exactly(world, standin, entities=["parts"])


async def test_a_410_pauses_the_destination_with_the_reason(world, standin):
    hub = await add_schedulehub(world, standin, entities=["parts"])
    await standin.control.set_faults(gone=True)
    await world.sync("parts")
    deadline = asyncio.get_running_loop().time() + 30
    while not (await world.client.get(f"/api/v1/destinations/{hub['uid']}")).json()["paused"]:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.1)
    shown = (await world.client.get(f"/api/v1/destinations/{hub['uid']}")).json()
    assert shown["pause_reason"].startswith("410 Gone")
    # the batch that met the 410 goes back to pending as its outcome is recorded
    while (await deliveries(world, state="pending"))["total"] != 5:
        assert asyncio.get_running_loop().time() < deadline, "events never returned to pending"
        await asyncio.sleep(0.1)
    await standin.control.set_faults()
    await world.client.post(f"/api/v1/destinations/{hub['uid']}/resume")
    await assert_delivered_exactly(world, standin, entities=["parts"])


async def test_a_step_committed_between_the_summary_reads_never_shows_nothing_waiting(
    world, standin, monkeypatch
):
    """A delivery step copies events into the ledger and moves the stream's cursor in
    one transaction; the streams summary reads the cursors and the ledger in two
    statements. Whichever order the step lands in between, the events still show."""
    world.settings.delivery_straight = False
    hub = await add_schedulehub(world, standin, entities=["parts"])
    await world.client.post(f"/api/v1/destinations/{hub['uid']}/pause", json={})
    await world.sync("parts")
    async with world.app.state.database.transaction() as conn:
        await StreamRepository(conn).ensure_streams(now=datetime.now(UTC))
    reads = {"count": 0}

    async def step() -> None:
        """What a runner's step commits before it sends: the events copied, the cursor on."""
        async with world.app.state.target_database.transaction() as target:
            events = await OutboxRepository(target).events_for_delivery(
                entity="parts", after=0, limit=100
            )
        async with world.app.state.database.transaction() as conn:
            await DeliveryLedger(conn).add_events(
                UUID(hub["uid"]), "parts", events=events, now=datetime.now(UTC)
            )

    def first_then_step(read):
        async def wrapped(self):
            result = await read(self)
            reads["count"] += 1
            if reads["count"] == 1:  # the summary's first read is done: the step lands
                await step()
            return result

        return wrapped

    monkeypatch.setattr(StreamRepository, "positions", first_then_step(StreamRepository.positions))
    monkeypatch.setattr(LedgerAdmin, "summary", first_then_step(LedgerAdmin.summary))
    (parts,) = [s for s in await streams(world) if s["entity"] == "parts"]
    assert reads["count"] == 2
    assert parts["pending"] + parts["delivering"] >= 5, parts


async def wait_killed(process, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while process.poll() is None:
        assert asyncio.get_running_loop().time() < deadline, "the worker never got there"
        await asyncio.sleep(0.05)
    assert process.returncode == -signal.SIGKILL, process.returncode


def delivery_runner(world, worker_id: str) -> DeliveryRunner:
    """A delivery runner in this process, on the world's databases."""
    return DeliveryRunner(
        database=world.app.state.database,
        target_database=world.app.state.target_database,
        settings=world.settings,
        worker_id=worker_id,
    )


@pytest.mark.no_worker
@pytest.mark.parametrize("straight", [True, False], ids=["straight", "through-the-ledger"])
async def test_a_worker_killed_mid_batch_loses_nothing_and_inserts_nothing_twice(
    world, standin, spawn_worker, tmp_path, straight
):
    world.settings.delivery_straight = straight
    hub = await add_schedulehub(world, standin, entities=["parts"])
    first = delivery_runner(world, "first")
    running = asyncio.create_task(first.run_forever())
    try:
        assert (await world.sync_with_a_worker(spawn_worker, "parts"))["status"] == "completed"
        await assert_delivered_exactly(world, standin, entities=["parts"])
    finally:
        await first.shutdown(running)
    # a batch of one insert and one update; paused while the victim syncs it, so that
    # the victim is killed delivering, between the insert and the update
    await world.erp("UPDATE parts SET qty = 77, rowversion = nextval('rv') WHERE part_no = 'P-001'")
    await world.erp(
        "INSERT INTO parts (part_no, description, unit_cost, qty, created) "
        "VALUES ('N-9', 'new', '1', 1, '2025-01-01')"
    )
    await world.client.post(f"/api/v1/destinations/{hub['uid']}/pause", json={})
    batch_uid = await world.start("parts")
    victim = spawn_worker(
        tmp_path / "victim.log", crash_at="deliver", delivery_straight=str(straight).lower()
    )
    assert (await world.wait(batch_uid))["status"] == "completed"
    await world.client.post(f"/api/v1/destinations/{hub['uid']}/resume")
    await wait_killed(victim)
    (parts,) = [s for s in await streams(world) if s["entity"] == "parts"]
    if straight:  # nothing recorded: the stream has not read past the two events
        assert (parts["unread"], parts["delivering"]) == (2, 0)
    else:  # the ledger holds them in flight
        assert (parts["unread"], parts["delivering"]) == (0, 2)
    held_now = await held(standin, "parts")
    target_now = await target_state(world, "parts")
    assert len(held_now) == len(target_now) == 6  # the insert landed
    assert held_now != target_now  # the update did not
    # a delivery runner of this process takes the stream over once the victim's lease ends
    survivor = delivery_runner(world, "survivor")
    running = asyncio.create_task(survivor.run_forever())
    try:
        await assert_delivered_exactly(world, standin, entities=["parts"])
    finally:
        await survivor.shutdown(running)
    log = await standin.control.log(entity="parts")
    assert sorted(e["op"] for e in log) == ["insert"] * 6 + ["update"]


async def pending_after_attempts(world, count: int, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        items = (await deliveries(world, state="pending"))["items"]
        if items and all(item["attempts_count"] >= count for item in items):
            return items
        assert asyncio.get_running_loop().time() < deadline, items
        await asyncio.sleep(0.05)


async def test_retry_after_is_honoured_and_an_outage_past_the_horizon_dead_letters(world, standin):
    await add_schedulehub(world, standin, entities=["parts"])
    await standin.control.set_faults(throttle_rate=1, retry_after_seconds=2)
    await world.sync("parts")
    waiting = await pending_after_attempts(world, 1)
    for item in waiting:
        last = datetime.fromisoformat(item["attempts"][-1]["attempted_at"])
        assert datetime.fromisoformat(item["next_attempt_at"]) - last >= timedelta(seconds=1.9)
        assert item["attempts"][-1]["status_code"] == 429

    world.settings.delivery_retry_horizon_seconds = 1.0
    await standin.control.set_faults(error_rate=1)
    await settled(world, ["parts"], timeout=30)
    dead = (await deliveries(world, state="dead"))["items"]
    assert len(dead) == 5
    assert all(item["last_error"].startswith("gave up after") for item in dead)
    assert all("HTTP 503" in item["last_error"] for item in dead)

    await standin.control.set_faults()
    replay = await world.client.post(
        "/api/v1/deliveries/replay", json={"destination": "hub", "entity": "parts"}
    )
    assert replay.json() == {"replayed": 5}
    await assert_delivered_exactly(world, standin, entities=["parts"])


async def test_delivery_shows_in_stats_metrics_and_the_detailed_health(world, standin):
    hub = await add_schedulehub(world, standin, entities=["parts"])
    await world.client.post(f"/api/v1/destinations/{hub['uid']}/pause", json={})
    await world.sync("parts")
    await world.client.post(f"/api/v1/destinations/{hub['uid']}/resume")
    await standin.control.set_rules([{"entity": "parts", "field": "part_no", "equals": "P-001"}])
    await settled(world, ["parts"])

    stats = (await world.client.get("/api/v1/monitoring/stats")).json()
    assert [
        (d["destination"], d["entity"], d["pending"], d["dead"]) for d in stats["deliveries"]
    ] == [("hub", "parts", 0, 1)]
    await scheduled.refresh_metrics(
        database=world.app.state.database, target_database=world.app.state.target_database
    )
    metrics = (await world.client.get("/metrics")).text
    assert 'syncflow_delivery_dead{destination="hub",entity="parts"} 1.0' in metrics
    assert 'syncflow_delivery_pending{destination="hub",entity="parts"} 0.0' in metrics
    assert 'syncflow_delivery_lag_seconds{destination="hub",entity="parts"} 0.0' in metrics

    healthy = (await world.client.get("/api/v1/monitoring/health/detailed")).json()
    assert [(d["destination"], d["ok"]) for d in healthy["destinations"]] == [("hub", True)]
    await world.client.patch(
        f"/api/v1/destinations/{hub['uid']}", json={"url": f"http://127.0.0.1:{free_port()}"}
    )
    unhealthy = await world.client.get("/api/v1/monitoring/health/detailed")
    assert unhealthy.status_code == 503
    check = unhealthy.json()["destinations"][0]
    assert (check["ok"], check["detail"]) == (False, "unreachable: ConnectError")


async def test_retention_prunes_delivered_events_and_their_outbox_rows(world, standin):
    await add_schedulehub(world, standin, entities=["parts"])
    await standin.control.set_rules([{"entity": "parts", "field": "part_no", "equals": "P-004"}])
    await world.sync("parts")
    await settled(world, ["parts"])
    world.settings.delivery_retention_days = 1e-9
    context = RunContext(
        database=world.app.state.database,
        target_database=world.app.state.target_database,
        settings=world.settings,
        worker_id="pruner",
    )
    await scheduled.prune_deliveries(ctx=context)
    left = await world.target(f"SELECT id FROM {OUTBOX} WHERE entity = 'parts' ORDER BY id")
    remaining = (await deliveries(world))["items"]
    # the dead letter stays, and so does its outbox event and every later one
    assert [item["state"] for item in remaining] == ["dead"]
    assert left
    assert left[0]["id"] == remaining[0]["event_id"]


@pytest.fixture
def cli_logging():
    yield
    # the command points Loguru at the runner's captured stderr, which is closed afterwards
    logger.remove()
    logger.add(sys.stderr)


async def test_the_cli_lists_dead_letters_and_replays_them(world, standin, cli_logging):
    await add_schedulehub(world, standin, entities=["parts"])
    await standin.control.set_rules([{"entity": "parts", "field": "part_no", "equals": "P-002"}])
    await world.sync("parts")
    await settled(world, ["parts"])
    env = command_env(world.settings)

    async def run(*args: str):
        return await asyncio.to_thread(CliRunner().invoke, app, ["deliveries", *args], env=env)

    listed = await run("list", "--destination", "hub", "--state", "dead")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert lines[-1] == "1 of 1"
    [shown] = [line for line in lines if "  hub  parts  " in line]
    assert "dead" in shown
    assert "rejected by ScheduleHub" in shown
    assert (await run("list", "--state", "lost")).exit_code == 2

    progress = await run("streams")
    assert progress.exit_code == 0, progress.output
    [line] = [line for line in progress.output.splitlines() if line.startswith("hub  parts  ")]
    assert "unread=0" in line
    assert "dead=1" in line

    await standin.control.set_rules([])
    replayed = await run("replay", "hub", "--state", "dead")
    assert replayed.exit_code == 0, replayed.output
    assert "1 events replayed" in replayed.output
    await assert_delivered_exactly(world, standin, entities=["parts"])
    unknown = await run("replay", "nowhere")
    assert unknown.exit_code == 1
    assert "not found" in unknown.output


async def test_records_and_webhook_events_carry_numerics_digit_for_digit(world, standin):
    await add_schedulehub(world, standin, entities=["parts"])
    await world.erp(
        "UPDATE parts SET qty = 123456789012.345678, rowversion = nextval('rv') "
        "WHERE part_no = 'P-001'"
    )
    await world.sync("parts")
    [event] = await world.target(
        f"SELECT e.id FROM {OUTBOX} e JOIN erp.parts t ON t._bridge_uid = e.bridge_uid "
        "WHERE e.entity = 'parts' AND t.part_no = 'P-001'"
    )
    async with world.app.state.database.transaction() as conn:
        spec = await load_spec(conn, "parts")
    async with world.app.state.target_database.transaction() as target:
        sent = (await OutboxReads(target).to_send(spec, [event["id"]], paths={}))[event["id"]]
    assert re.search(r'"qty": ?123456789012\.345678\b', sent["record"])
    assert re.search(r'"qty": ?123456789012\.345678\b', sent["item"])
    record = json.loads(sent["record"])
    assert record["erp_key_hash"] == sent["key_hash"]
    assert set(record) >= {"erp_data_hash", "erp_rowversion", "erp_ref_str", "parent_refs"}
    await assert_delivered_exactly(world, standin, entities=["parts"])


async def test_entity_paths_name_the_records_and_their_parent_refs(world, standin):
    await standin.control.set_rules(require_parents=True)
    paths = {"parts": "inventory-parts", "shop_orders": "work-orders"}
    await add_schedulehub(world, standin, entities=list(paths), entity_paths=paths)
    await world.sync("parts")
    await world.sync("shop_orders")
    await settled(world, list(paths))
    assert (await deliveries(world, state="dead"))["total"] == 0
    for entity, path in paths.items():
        assert await held(standin, path) == await target_state(world, entity)
    [order] = [r for r in await standin.control.records("work-orders") if r["order_no"] == "SO-1"]
    assert list(order["parent_refs"]) == ["inventory-parts"]


async def test_an_entity_on_the_column_lane_arrives_exactly(world, standin):
    # typed ERP columns: the column lane COPYs the rows in and names them in one load
    # per chunk; the events go straight from the outbox, each record read from its row
    await add_items(world)
    hub = await add_schedulehub(world, standin, entities=["items"], batch_size=70)
    # paused: nothing reads the first load's loads before the second sync changes rows
    await world.client.post(f"/api/v1/destinations/{hub['uid']}/pause", json={})
    assert (await world.sync("items", "full"))["counters"]["inserted"] == ROWS
    # text beyond ASCII: the row-wise stages decide and write this change
    await world.erp("UPDATE items SET name = 'Zoë' WHERE item_no = 11")
    assert (await world.sync("items"))["counters"]["updated"] == 1
    await world.erp("UPDATE items SET price = price + 1 WHERE item_no <= 10")
    await world.erp("DELETE FROM items WHERE item_no BETWEEN 101 AND 105")
    changed = await world.sync("items")
    assert (changed["counters"]["updated"], changed["counters"]["deleted"]) == (10, 5)
    await world.client.post(f"/api/v1/destinations/{hub['uid']}/resume")
    await assert_delivered_exactly(world, standin, entities=["items"])
    held_rows = {r["erp_key_hash"]: r for r in await standin.control.records("items")}
    stored = await world.target(
        "SELECT replace(_bridge_key_hash::text, '-', '') AS key, price::text, "
        "to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') AS changed_at "
        "FROM erp.items WHERE _bridge_deleted_at IS NULL"
    )
    assert len(stored) == len(held_rows) == ROWS - 5
    for row in stored:
        record = held_rows[row["key"]]
        assert Decimal(str(record["price"])) == Decimal(row["price"])
        assert record["changed_at"] == row["changed_at"] + "+00:00"  # instants in UTC
    # the first load's events (made from its loads) come once per row, each before the
    # later change of its key
    feed = (await world.client.get("/api/v1/entities/items/changes?limit=1000")).json()["items"]
    inserts = [e["key_hash"] for e in feed if e["operation"] == "insert"]
    assert len(inserts) == len(set(inserts)) == ROWS
    first_seen = {e["key_hash"]: e["id"] for e in reversed(feed)}
    later = [e for e in feed if e["operation"] != "insert"]
    assert len(later) == 16
    assert all(first_seen[e["key_hash"]] < e["id"] for e in later)
    # an insert names the row as the first load wrote it: updated since, it is superseded
    changed = {e["key_hash"] for e in later if e["operation"] == "update"}
    assert len(changed) == 11
    assert all(
        e["data"] is None for e in feed if e["operation"] == "insert" and e["key_hash"] in changed
    )
