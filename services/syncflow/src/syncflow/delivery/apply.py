"""Sending one batch of events to a destination and telling what became of each event.

ScheduleHub, by state: one ``batch/query`` for the batch's keys, then ``batch/insert``
for keys ScheduleHub lacks, ``batch/update`` for keys it holds with another data hash,
``batch/delete`` for deleted keys it still holds. A key's events in one batch collapse to
its newest (only that state is sent; the others share its fate). A batch sent again after
a timeout or a crash therefore inserts nothing twice: the query shows what landed.
Per-record failures dead-letter that key's events with ScheduleHub's error; the rest of
the batch is delivered.

Records and events are JSON text made by PostgreSQL from the outbox and the target
rows (see :mod:`syncflow.delivery.outbox_reads`) and embedded as they are, so numerics
keep every digit. A superseded change (its row rewritten by a newer one since) is not
sent: it counts as delivered, and the key's newer event carries its state.
A record is the mapped row plus ``erp_key_hash``, ``erp_data_hash``,
``erp_rowversion``, ``erp_ref_str`` (the row's ``_bridge_uid``) and ``parent_refs``
(``{parent's entity path at the destination: parent key hash}``).

Webhook: the batch's events, oldest first, in one signed message whose id is the batch's,
in Standard Webhooks' envelope: ``{type: "syncflow.changes", timestamp, data: {destination,
entity, events: [change feed items]}}``.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from syncflow.delivery.schedulehub import ScheduleHubClient
from syncflow.delivery.webhook import WebhookClient
from syncflow.faults import crash_point


@dataclass
class Outcome:
    """Event ids delivered, and dead-lettered with their error."""

    delivered: list[int] = field(default_factory=list)
    dead: dict[int, str] = field(default_factory=dict)


def _failed_keys(
    result: dict[str, Any], *, sent_keys: list[str], uid_keys: dict[str, str]
) -> dict[str, str]:
    """Which keys a ``batch/*`` answer says failed, with ScheduleHub's error. A failure
    that names no record we can place fails every key of the request."""
    failed: dict[str, str] = {}
    for failure in result.get("failures") or []:
        record = failure.get("record") if isinstance(failure, dict) else None
        error = str(failure.get("error")) if isinstance(failure, dict) else str(failure)
        key = None
        if isinstance(record, dict):
            data = record.get("data")
            key = record.get("erp_key_hash")
            key = key or (data.get("erp_key_hash") if isinstance(data, dict) else None)
            key = key or uid_keys.get(str(record.get("uid")))
        elif isinstance(record, str):
            key = uid_keys.get(record) or (record if record in sent_keys else None)
        if key in sent_keys:
            failed[key] = error
        else:
            return dict.fromkeys(sent_keys, error)
    return failed


def _current(event: dict[str, Any]) -> bool:
    """Whether the event still has its row's state to send (a delete always has)."""
    return event["operation"] == "delete" or event["record"] is not None


async def apply_to_schedulehub(
    client: ScheduleHubClient,
    *,
    path: str,
    rows: list[dict[str, Any]],
    events: dict[int, dict[str, Any]],
) -> Outcome:
    """Apply a batch by state (see the module doc); ``DeliveryFailed`` fails all of it."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:  # oldest first: the last one per key wins
        latest[row["key_hash"]] = events[row["event_id"]]
    # a superseded change (its row rewritten since) sends nothing: a newer event carries
    # the key's state (outbox_reads)
    latest = {key: event for key, event in latest.items() if _current(event)}
    keys = list(latest)
    if not keys:
        return Outcome(delivered=[row["event_id"] for row in rows])
    held = await client.call(f"{path}/batch/query", {"erp_key_hashes": keys})
    existing = {
        record["erp_key_hash"]: record
        for record in held.get("records") or []
        if isinstance(record, dict) and "erp_key_hash" in record
    }
    uid_keys = {str(record.get("uid")): key for key, record in existing.items()}
    inserts, updates, deletes = [], [], []
    for key, event in latest.items():
        record = existing.get(key)
        if event["operation"] == "delete":
            if record is not None and not record.get("deleted_at"):
                deletes.append(key)
        elif record is None:
            inserts.append(key)
        elif record.get("erp_data_hash") != event["data_hash"] or record.get("deleted_at"):
            updates.append(key)
    failed: dict[str, str] = {}
    if inserts:
        result = await client.call(
            f"{path}/batch/insert",
            {"records": [orjson.Fragment(latest[key]["record"]) for key in inserts]},
        )
        failed |= _failed_keys(result, sent_keys=inserts, uid_keys=uid_keys)
        crash_point("deliver")
    if updates:
        body = {
            "updates": [
                {"uid": existing[key]["uid"], "data": orjson.Fragment(latest[key]["record"])}
                for key in updates
            ]
        }
        result = await client.call(f"{path}/batch/update", body)
        failed |= _failed_keys(result, sent_keys=updates, uid_keys=uid_keys)
    if deletes:
        body = {"uids": [existing[key]["uid"] for key in deletes]}
        result = await client.call(f"{path}/batch/delete", body)
        failed |= _failed_keys(result, sent_keys=deletes, uid_keys=uid_keys)
    outcome = Outcome()
    for row in rows:
        error = failed.get(row["key_hash"])
        if error is None:
            outcome.delivered.append(row["event_id"])
        else:
            outcome.dead[row["event_id"]] = f"rejected by ScheduleHub: {error}"
    return outcome


async def apply_to_webhook(
    client: WebhookClient,
    *,
    destination: str,
    entity: str,
    batch_uid: str,
    rows: list[dict[str, Any]],
    events: dict[int, dict[str, Any]],
) -> Outcome:
    """Send the batch as one signed message, superseded changes left out;
    ``DeliveryFailed`` fails all of it."""
    items = [
        orjson.Fragment(events[row["event_id"]]["item"])
        for row in rows
        if _current(events[row["event_id"]])
    ]
    delivered = Outcome(delivered=[row["event_id"] for row in rows])
    if not items:
        return delivered
    payload = {
        "type": "syncflow.changes",
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {
            "destination": destination,
            "entity": entity,
            "events": items,
        },
    }
    await client.send(message_id=batch_uid, payload=payload)
    return delivered
