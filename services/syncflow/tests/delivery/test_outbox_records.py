"""A ScheduleHub record and a webhook item are put together around the mapped row's JSON
text as PostgreSQL made it: every digit kept, parents named by their path, nothing for a
superseded change."""

import json
import uuid
from datetime import UTC, datetime

from syncflow.delivery.outbox_reads import item_of, record_of

UID = uuid.UUID("01234567-89ab-7def-8123-456789abcdef")


def event(data, parents=None, operation="insert"):
    return {
        "id": 7,
        "key_hash": "ab" * 16,
        "data_hash": "cd" * 32,
        "rowversion": "17",
        "bridge_uid": UID,
        "batch_uid": UID,
        "operation": operation,
        "parent_key_hashes": json.dumps(parents or {}),  # as the outbox reads give it
        "created_at": datetime(2026, 12, 6, 5, 0, tzinfo=UTC),
        "data": data,
    }


def test_a_record_is_the_row_plus_its_erp_fields_every_digit_kept():
    text = record_of(event('{"qty":123456789012.345678,"part_no":"P-1"}'), {})
    assert text is not None
    assert '"qty":123456789012.345678,' in text
    record = json.loads(text)
    assert record["part_no"] == "P-1"
    assert (record["erp_key_hash"], record["erp_rowversion"]) == ("ab" * 16, "17")
    assert record["erp_ref_str"] == str(UID)
    assert record["parent_refs"] == {}


def test_parents_are_named_by_their_path_at_the_destination():
    text = record_of(
        event('{"a": 1}', parents={"shop_orders": "ef" * 16, "parts": "01" * 16}),
        {"shop_orders": "work-orders"},
    )
    assert text is not None
    assert json.loads(text)["parent_refs"] == {"work-orders": "ef" * 16, "parts": "01" * 16}


def test_a_superseded_change_has_no_record_and_an_item_without_data():
    assert record_of(event(None), {}) is None
    item = json.loads(item_of(event(None)))
    assert item["data"] is None
    assert (item["op"], item["operation"], item["uid"]) == ("upsert", "insert", str(UID))


def test_an_empty_row_still_makes_a_record():
    text = record_of(event("{}", operation="delete"), {})
    assert text is not None
    assert json.loads(text)["erp_data_hash"] == "cd" * 32
    assert json.loads(item_of(event("{}", operation="delete")))["op"] == "delete"
