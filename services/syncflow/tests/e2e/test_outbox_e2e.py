"""The transactional outbox: one event per inserted, updated or deleted target row,
committed with the row; none for a dry run or an unchanged row, and none for an entity
no destination delivers."""

import base64
from uuid import UUID

import pytest

OUTBOX = "syncflow_delivery.outbox_events"
SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()


async def add_destination(world, entities: list[str]) -> None:
    response = await world.client.post(
        "/api/v1/destinations",
        json={
            "name": "hook",
            "kind": "webhook",
            "url": "http://127.0.0.1:9/hook",
            "secrets": [SECRET],
            "entities": entities,
        },
    )
    assert response.status_code == 201, response.text


@pytest.fixture
async def delivered(world):
    """The world with a destination that delivers every entity."""
    await add_destination(world, [])
    return world


# the target keeps the key hash as a uuid; events carry it as hex
KEY_HEX = "replace(_bridge_key_hash::text, '-', '')"


async def events(world, entity: str) -> list[dict]:
    """The entity's events as the change feed shows them (every one in the outbox)."""
    response = await world.client.get(f"/api/v1/entities/{entity}/changes?limit=1000")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    stored = await world.target(f"SELECT count(*) FROM {OUTBOX} WHERE entity = $1", entity)
    assert len(items) == stored[0][0]
    return [{**item, "bridge_uid": UUID(item["uid"])} for item in items]


async def test_inserts_updates_and_a_dry_run(delivered):
    world = delivered
    dry = await world.sync("parts", dry_run=True)
    assert dry["counters"]["inserted"] == 5
    assert await events(world, "parts") == []

    first = await world.sync("parts")
    inserted = await events(world, "parts")
    assert [e["operation"] for e in inserted] == ["insert"] * 5
    assert {str(e["batch_uid"]) for e in inserted} == {first["batch_uid"]}
    stored = {
        r["_bridge_key_hash"]: r
        for r in await world.target(
            f"SELECT {KEY_HEX} AS _bridge_key_hash, _bridge_uid, "
            "encode(_bridge_data_hash, 'hex') AS _bridge_data_hash, _bridge_rowversion, "
            "part_no, qty FROM erp.parts"
        )
    }
    for event in inserted:
        row = stored[event["key_hash"]]
        assert (event["bridge_uid"], event["data_hash"], event["rowversion"]) == (
            row["_bridge_uid"],
            row["_bridge_data_hash"],
            row["_bridge_rowversion"],
        )
        data = event["data"]
        assert data["part_no"] == row["part_no"]
        assert not any(name.startswith("_bridge_") for name in data)

    await world.erp("UPDATE parts SET qty = 99, rowversion = nextval('rv') WHERE part_no = 'P-001'")
    await world.sync("parts")
    after = await events(world, "parts")
    assert len(after) == 6
    update = after[-1]
    assert update["operation"] == "update"
    assert update["id"] > inserted[-1]["id"]
    assert update["data"]["qty"] == 99
    # the insert of that row is superseded: the feed shows no data for it any more
    insert, _ = [e for e in after if e["key_hash"] == update["key_hash"]]
    assert insert["operation"] == "insert"
    assert insert["data"] is None
    assert [e["data"] is None for e in after].count(True) == 1


async def test_deletes_and_parent_key_hashes(delivered):
    world = delivered
    await world.sync("parts")
    await world.sync("shop_orders")
    await world.sync("operations")
    await world.erp("UPDATE operations SET hours = 9 WHERE order_no = 'SO-1' AND op_no = 10")
    await world.erp("DELETE FROM operations WHERE order_no = 'SO-2'")
    await world.allow_deletes("operations", max_ratio=0.5)
    second = await world.sync("operations")
    assert (second["counters"]["updated"], second["counters"]["deleted"]) == (1, 1)
    ops = await events(world, "operations")
    assert [e["operation"] for e in ops] == ["insert"] * 3 + ["update", "delete"]
    order_hashes = {
        r["order_no"]: r["_bridge_key_hash"]
        for r in await world.target(
            f"SELECT order_no, {KEY_HEX} AS _bridge_key_hash FROM erp.shop_orders"
        )
    }
    assert ops[3]["parent_key_hashes"] == {"shop_orders": order_hashes["SO-1"]}
    assert ops[4]["data"]["order_no"] == "SO-2"
    # every event's row exists: the deleted one soft-deleted, in the same transaction
    deleted = await world.target(
        f"SELECT {KEY_HEX} FROM erp.operations WHERE _bridge_deleted_at IS NOT NULL"
    )
    assert [r[0] for r in deleted] == [ops[4]["key_hash"]]


async def test_the_change_feed_pages_by_cursor(delivered):
    world = delivered
    empty = await world.client.get("/api/v1/entities/parts/changes")
    assert empty.json() == {"items": [], "next": 0}
    await world.sync("parts")
    await world.erp("UPDATE parts SET qty = 7, rowversion = nextval('rv') WHERE part_no = 'P-002'")
    await world.sync("parts")
    first = (await world.client.get("/api/v1/entities/parts/changes?limit=4")).json()
    assert [item["op"] for item in first["items"]] == ["upsert"] * 4
    rest = (
        await world.client.get(f"/api/v1/entities/parts/changes?after={first['next']}&limit=4")
    ).json()
    assert [item["operation"] for item in rest["items"]] == ["insert", "update"]
    assert rest["items"][-1]["data"]["part_no"] == "P-002"
    assert rest["items"][-1]["data"]["qty"] == 7
    done = (await world.client.get(f"/api/v1/entities/parts/changes?after={rest['next']}")).json()
    assert done == {"items": [], "next": rest["next"]}
    unknown = await world.client.get("/api/v1/entities/nope/changes")
    assert unknown.status_code == 404
    too_many = await world.client.get("/api/v1/entities/parts/changes?limit=5000")
    assert too_many.status_code == 422


async def test_only_entities_a_destination_delivers_record_changes(world):
    await world.sync("parts")
    await add_destination(world, ["shop_orders"])
    await world.erp("UPDATE parts SET qty = 3, rowversion = nextval('rv') WHERE part_no = 'P-004'")
    await world.sync("parts")
    await world.sync("shop_orders")

    assert await events(world, "parts") == []
    orders = await events(world, "shop_orders")
    assert [e["operation"] for e in orders] == ["insert", "insert"]
