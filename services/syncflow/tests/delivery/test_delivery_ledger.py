"""The delivery ledger on real PostgreSQL: which events a batch may take (order per key,
parents first), how outcomes, replays and retention move them."""

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from syncflow.databases import open_databases
from syncflow.delivery.ledger import DeliveryLedger
from syncflow.delivery.ledger_admin import LedgerAdmin
from syncflow.destinations import service as destinations_service
from syncflow.destinations.schemas import DestinationCreate

SECRET = "whsec_" + base64.b64encode(b"l" * 32).decode()
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def ledger_world(syncflow_settings):
    """A database, a webhook destination (deleted afterwards, with its deliveries)."""
    async with open_databases(syncflow_settings) as (database, _):
        async with database.transaction() as conn:
            destination = await destinations_service.create_destination(
                conn,
                settings=syncflow_settings,
                body=DestinationCreate(
                    name=f"ledger-{uuid.uuid4().hex[:8]}",
                    kind="webhook",
                    url="http://127.0.0.1:9/hook",
                    secrets=[SECRET],
                    enabled=False,
                ),
            )
        yield database, destination.uid
        async with database.transaction() as conn:
            await destinations_service.delete_destination(conn, uid=destination.uid)


def event(event_id: int, key: str, operation: str = "update", parents=None) -> dict:
    return {
        "id": event_id,
        "key_hash": key.ljust(32, "0"),
        "bridge_uid": uuid.uuid4(),
        "operation": operation,
        "data_hash": "d" * 64,
        "parent_key_hashes": {p: k.ljust(32, "0") for p, k in (parents or {}).items()},
        "created_at": NOW,
    }


async def add(database, uid, entity, events):
    async with database.transaction() as conn:
        await DeliveryLedger(conn).add_events(uid, entity, events=events, now=NOW)


async def take(database, uid, entity, keys=10) -> list[tuple[int, str]]:
    """Form a batch and start it: ``(event id, key letter)`` of its events."""
    async with database.transaction() as conn:
        ledger = DeliveryLedger(conn)
        rows = await ledger.form_batch(uid, entity, keys=keys, batch_uid=uuid.uuid4(), now=NOW)
    return [(r["event_id"], r["key_hash"][0]) for r in rows]


async def settle(database, uid, ids, state, **extra):
    async with database.transaction() as conn:
        await DeliveryLedger(conn).set_state(
            ids, destination_uid=uid, state=state, now=NOW, **extra
        )


async def test_a_key_waits_behind_its_own_earlier_events_while_other_keys_go_on(ledger_world):
    database, uid = ledger_world
    await add(database, uid, "parts", [event(1, "a"), event(2, "b"), event(3, "a")])
    # a key's events all go together, oldest first
    assert await take(database, uid, "parts") == [(1, "a"), (2, "b"), (3, "a")]

    await add(database, uid, "parts", [event(4, "a"), event(5, "c")])
    # "a" and "b" are still in flight: only "c" may go
    assert await take(database, uid, "parts") == [(5, "c")]
    await settle(database, uid, [1, 3], "pending", next_attempt_at=NOW + timedelta(hours=1))
    await settle(database, uid, [2, 5], "delivered")
    # "a" waits for its retry: its newer event 4 must not overtake 1 and 3
    assert await take(database, uid, "parts") == []
    async with database.transaction() as conn:
        ledger = DeliveryLedger(conn)
        assert await ledger.due_batch(uid, "parts", now=NOW) is None
        retry = await ledger.due_batch(uid, "parts", now=NOW + timedelta(hours=2))
        rows = await ledger.start_batch(retry, now=NOW)
    assert [r["event_id"] for r in rows] == [1, 3]
    await settle(database, uid, [1, 3], "delivered")
    assert await take(database, uid, "parts") == [(4, "a")]


async def test_a_dead_event_holds_its_key_until_replayed(ledger_world):
    database, uid = ledger_world
    await add(database, uid, "parts", [event(10, "a"), event(11, "b")])
    assert await take(database, uid, "parts") == [(10, "a"), (11, "b")]
    await settle(database, uid, [10], "dead", error="rejected")
    await settle(database, uid, [11], "delivered")
    await add(database, uid, "parts", [event(12, "a")])
    assert await take(database, uid, "parts") == []

    async with database.transaction() as conn:
        replayed = await LedgerAdmin(conn).replay(
            destination_uid=uid, entity="parts", state="dead", uids=None, now=NOW
        )
        assert replayed == 1
        batch = await DeliveryLedger(conn).due_batch(uid, "parts", now=NOW)
        rows = await DeliveryLedger(conn).start_batch(batch, now=NOW)
    # the same event, under the same batch id as before (a webhook-id that does not change)
    assert [(r["event_id"], r["attempts"]) for r in rows] == [(10, 0)]
    await settle(database, uid, [10], "delivered")
    assert await take(database, uid, "parts") == [(12, "a")]
    await settle(database, uid, [12], "delivered")

    # a delivered event with a newer delivered one is not replayed (it would go backwards)
    async with database.transaction() as conn:
        replayed = await LedgerAdmin(conn).replay(
            destination_uid=uid, entity="parts", state="delivered", uids=None, now=NOW
        )
    assert replayed == 2  # 11 ("b") and 12 ("a"), not 10


async def test_children_wait_for_their_parents_at_the_same_destination(ledger_world):
    database, uid = ledger_world
    await add(database, uid, "parts", [event(20, "p")])
    await add(database, uid, "orders", [event(21, "c", parents={"parts": "p"}), event(22, "d")])
    assert await take(database, uid, "orders") == [(22, "d")]
    assert await take(database, uid, "parts") == [(20, "p")]
    assert await take(database, uid, "orders") == []
    await settle(database, uid, [20], "delivered")
    assert await take(database, uid, "orders") == [(21, "c")]


async def test_retention_prunes_delivered_events_never_undelivered_ones(ledger_world):
    database, uid = ledger_world
    await add(database, uid, "parts", [event(30, "a"), event(31, "b"), event(32, "c")])
    assert len(await take(database, uid, "parts")) == 3
    await settle(database, uid, [30, 32], "delivered")
    await settle(database, uid, [31], "dead", error="rejected")
    async with database.transaction() as conn:
        ledger = LedgerAdmin(conn)
        assert await ledger.prune_delivered(older_than=NOW - timedelta(days=1)) == 0
        assert await ledger.prune_delivered(older_than=NOW + timedelta(days=1)) == 2
        page, total = await ledger.page(
            destination_uid=uid, entity="parts", state=None, offset=0, limit=10
        )
    assert [(r["event_id"], r["state"]) for r in page] == [(31, "dead")]
    assert total == 1


async def test_keys_held_back_at_the_head_do_not_starve_the_keys_behind_them(ledger_world):
    database, uid = ledger_world
    await add(database, uid, "parts", [event(40, "a")])
    assert await take(database, uid, "parts", keys=1) == [(40, "a")]
    await settle(database, uid, [40], "dead", error="rejected")
    # five newer events of the dead key, then another key: windows of two events each
    await add(database, uid, "parts", [event(41 + i, "a") for i in range(5)] + [event(46, "b")])
    assert await take(database, uid, "parts", keys=1) == [(46, "b")]
