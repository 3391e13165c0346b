"""Typed ERP columns travel as Arrow pages and load through the column lane end to end:
a first load COPYed in binary, a re-read found unchanged, changes, deletes and rows the
lane hands to the row-wise stages counted as ever, and a worker killed mid-load
losing and duplicating nothing (real APISmith, real PostgreSQL, real worker processes).
"""

from decimal import Decimal

import pytest

from services.syncflow.tests.e2e.test_kill_matrix_e2e import kill_three_times_then_finish

ROWS = 300
ITEMS = [
    """
CREATE SEQUENCE items_rv""",
    """
CREATE TABLE items (
    item_no    bigint PRIMARY KEY,
    name       text,
    price      numeric(12, 2),
    due        date,
    changed_at timestamptz,
    rowversion bigint NOT NULL DEFAULT nextval('items_rv')
)""",
    """
INSERT INTO items (item_no, name, price, due, changed_at)
SELECT i, 'item ' || i, i * 1.25, DATE '2025-01-01' + i,
       TIMESTAMPTZ '2025-06-01 08:00+02' + i * INTERVAL '1 minute'
FROM generate_series(1, 300) i""",
]


async def add_items(world, *, page_size: int = 40, strategy: str = "hash") -> None:
    """The ``items`` API on APISmith and entity on SyncFlow (every column copied as is)."""
    for statement in ITEMS:
        await world.erp(statement)
    await world.add_api(
        "items",
        "SELECT item_no, name, price, due, changed_at, rowversion FROM items",
        strategy=strategy,
    )
    response = await world.client.post(
        "/api/v1/entities",
        json={
            "source": "erp",
            "name": "items",
            "api_slug": f"{world.prefix}-items",
            "delta_strategy": strategy,
            "page_size": page_size,
            "delete_policy": {"mode": "soft", "max_ratio": 0.5},
        },
    )
    assert response.status_code == 201, response.text


async def assert_target_equals_erp(world) -> None:
    erp = await world.erp(
        "SELECT item_no, btrim(name), price, due, changed_at FROM items ORDER BY 1"
    )
    target = await world.target(
        "SELECT item_no, name, price, due, changed_at FROM erp.items "
        "WHERE _bridge_deleted_at IS NULL ORDER BY 1"
    )
    assert [tuple(r) for r in target] == [tuple(r) for r in erp]
    keys = await world.target("SELECT count(*), count(DISTINCT _bridge_key_hash) FROM erp.items")
    assert keys[0][0] == keys[0][1]
    report = await world.verify("items")
    assert (report["missing"], report["extra"], report["different"]) == (0, 0, 0), report


async def test_first_load_resync_changes_and_deletes(world):
    await add_items(world)

    first = await world.sync("items")
    assert first["status"] == "completed", first
    counters = first["counters"]
    assert (counters["fetched"], counters["inserted"], counters["failed"]) == (ROWS, ROWS, 0)
    assert await world.key_index_is_built("erp.items")
    await assert_target_equals_erp(world)

    again = await world.sync("items")
    assert again["counters"]["unchanged"] == ROWS, again["counters"]
    assert again["counters"]["inserted"] + again["counters"]["updated"] == 0

    # 10 changed, 5 deleted, 3 new, one new row with text the lane hands to the row stages
    await world.erp("UPDATE items SET price = price + 1 WHERE item_no <= 10")
    await world.erp("DELETE FROM items WHERE item_no BETWEEN 101 AND 105")
    await world.erp(
        "INSERT INTO items (item_no, name, price, due, changed_at) VALUES "
        "(1001, 'new 1', 1, NULL, NULL), (1002, 'new 2', 2.5, '2026-01-01', now()), "
        "(1003, NULL, NULL, NULL, NULL), (1004, '  Größe   ', 4, NULL, NULL)"
    )
    changed = await world.sync("items")
    counters = changed["counters"]
    assert counters["updated"] == 10, counters
    assert counters["inserted"] == 4, counters
    assert counters["deleted"] == 5, counters
    assert counters["unchanged"] == ROWS - 15, counters
    assert counters["failed"] == 0
    await assert_target_equals_erp(world)
    trimmed = await world.target("SELECT name FROM erp.items WHERE item_no = 1004")
    assert trimmed[0][0] == "Größe"


async def test_verify_names_what_the_target_lacks_holds_over_and_holds_otherwise(world):
    await add_items(world)
    await world.sync("items")
    # not synced: 3 changed through the column lane, 1 through the row-wise stages
    # (non-ASCII text), 2 deleted, 2 new (one of them row-wise)
    await world.erp("UPDATE items SET price = price + 1 WHERE item_no IN (7, 8, 9)")
    await world.erp("UPDATE items SET name = 'Größe' WHERE item_no = 210")
    await world.erp("DELETE FROM items WHERE item_no IN (101, 102)")
    await world.erp("INSERT INTO items (item_no, name) VALUES (1001, 'new'), (1004, '  Größe  ')")
    gone = await world.target(
        "SELECT _bridge_key_hash FROM erp.items WHERE item_no IN (101, 102) ORDER BY 1"
    )

    report = await world.verify("items")

    assert report["equal"] is False
    assert (report["source_rows"], report["target_rows"]) == (ROWS, ROWS)
    assert (report["missing"], report["extra"], report["different"]) == (2, 2, 4), report
    assert report["sample_missing"] == ["1001", "1004"]
    assert report["sample_different"] == ["210", "7", "8", "9"]  # in text order
    assert report["sample_extra"] == [row[0].hex for row in gone]


async def test_a_dry_run_writes_nothing(world):
    await add_items(world)
    dry = await world.sync("items", dry_run=True)
    assert dry["counters"]["inserted"] == ROWS, dry["counters"]
    rows = await world.target("SELECT count(*) FROM erp.items")
    assert rows[0][0] == 0


@pytest.mark.no_worker
@pytest.mark.parametrize(("point", "after"), [("load", 2), ("commit", 3)])
async def test_killed_mid_load_the_batch_ends_exact(world, spawn_worker, tmp_path, point, after):
    await add_items(world, page_size=30)
    batch_uid = await world.start("items")

    final = await kill_three_times_then_finish(
        world, spawn_worker, tmp_path, batch_uid, point, after
    )

    counters = final["counters"]
    assert counters["fetched"] == ROWS, counters
    assert counters["inserted"] == ROWS, counters
    await assert_target_equals_erp(world)
    assert await world.key_index_is_built("erp.items")


async def test_a_key_read_twice_in_a_whole_re_read_ends_with_its_last_read(world):
    """A whole re-read calls most rows unchanged from what the target held as it began
    (pipeline/frames/known.py). A key read twice must still end with its last read, also
    when its first read changed the row and the second brings back exactly what the
    target held: item 200 through the column lane, item 210 (non-ASCII text) through
    the row-wise stages, both read first on the first page."""
    await add_items(world)
    first = await world.sync("items")
    assert first["counters"]["inserted"] == ROWS, first["counters"]
    await world.erp("ALTER TABLE items DROP CONSTRAINT items_pkey")
    await world.erp("UPDATE items SET price = 99, rowversion = -1 WHERE item_no = 200")
    await world.erp("UPDATE items SET name = 'Größe', rowversion = -2 WHERE item_no = 210")
    # the second reads: the rows as the first sync read them, rowversions included
    await world.erp(
        "INSERT INTO items (item_no, name, price, due, changed_at, rowversion) "
        "SELECT i, 'item ' || i, i * 1.25, DATE '2025-01-01' + i, "
        "TIMESTAMPTZ '2025-06-01 08:00+02' + i * INTERVAL '1 minute', i "
        "FROM unnest(ARRAY[200, 210]) i"
    )

    again = await world.sync("items", mode="full")
    assert again["status"] == "completed", again
    counters = again["counters"]
    assert counters["fetched"] == ROWS + 2, counters
    assert (counters["updated"], counters["duplicate"]) == (2, 2), counters
    assert counters["unchanged"] == ROWS - 2, counters
    rows = await world.target(
        "SELECT item_no, name, price FROM erp.items WHERE item_no IN (200, 210) ORDER BY 1"
    )
    assert [tuple(r) for r in rows] == [
        (200, "item 200", Decimal("250.00")),
        (210, "item 210", Decimal("262.50")),
    ]
    # verify reads the keys twice as well, and compares each key's last read
    report = await world.verify("items")
    assert (report["source_rows"], report["different"], report["equal"]) == (ROWS, 0, True)
