"""Delivery's service functions: the pull feed over the outbox, deliveries by state with
their attempts, replay, and what monitoring shows of delivery."""

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from syncflow.delivery.ledger_admin import LedgerAdmin
from syncflow.delivery.outbox_reads import OutboxReads, parents_of
from syncflow.delivery.repository import OutboxRepository
from syncflow.delivery.schemas import (
    ChangeEvent,
    ChangePage,
    Delivery,
    DeliveryAttempt,
    DeliveryPage,
    DeliveryStream,
    ReplayResult,
)
from syncflow.delivery.streams import StreamRepository
from syncflow.destinations import service as destinations_service
from syncflow.entities import service as entities_service


async def changes_after(
    conn: AsyncConnection, target: AsyncConnection, *, entity: str, after: int, limit: int
) -> ChangePage:
    """The entity's change events after ``after``, oldest first; 404 for an unknown entity."""
    spec = await entities_service.load_spec(conn, entity)
    rows = await OutboxReads(target).feed(spec, after=after, limit=limit)
    items = [
        ChangeEvent(
            id=row["id"],
            op="delete" if row["operation"] == "delete" else "upsert",
            operation=row["operation"],
            key_hash=row["key_hash"],
            uid=row["bridge_uid"],
            data_hash=row["data_hash"],
            rowversion=row["rowversion"],
            batch_uid=row["batch_uid"],
            data=None if row["data"] is None else json.loads(row["data"]),
            parent_key_hashes=parents_of(row),
            created_at=row["created_at"],
        )
        for row in rows
    ]
    return ChangePage(items=items, next=items[-1].id if items else after)


def _attempts_of(row: dict[str, Any], attempts: list[dict[str, Any]]) -> list[DeliveryAttempt]:
    return [
        DeliveryAttempt(
            attempted_at=a["attempted_at"],
            request=a["request"],
            status_code=a["status_code"],
            latency_ms=a["latency_ms"],
            response=a["response"],
            error=a["error"],
        )
        for a in attempts
        if a["destination_uid"] == row["destination_uid"] and row["event_id"] in a["event_ids"]
    ]


async def list_deliveries(
    conn: AsyncConnection,
    *,
    destination: str | None,
    entity: str | None,
    state: str | None,
    page: int,
    page_size: int,
) -> DeliveryPage:
    """Deliveries, newest event first, each with the attempts that carried it; 404 for an
    unknown destination."""
    destination_uid = None
    if destination is not None:
        found = await destinations_service.find_destination(conn, name_or_uid=destination)
        destination_uid = found["uid"]
    ledger = LedgerAdmin(conn)
    rows, total = await ledger.page(
        destination_uid=destination_uid,
        entity=entity,
        state=state,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    attempts = await ledger.attempts_for(rows)
    items = [
        Delivery(
            uid=row["uid"],
            destination=row["destination_name"],
            destination_uid=row["destination_uid"],
            entity=row["entity_name"],
            event_id=row["event_id"],
            key_hash=row["key_hash"],
            operation=row["operation"],
            state=row["state"],
            batch_uid=row["batch_uid"],
            attempts_count=row["attempts"],
            next_attempt_at=row["next_attempt_at"] if row["state"] == "pending" else None,
            last_error=row["last_error"],
            event_created_at=row["event_created_at"],
            delivered_at=row["delivered_at"],
            attempts=_attempts_of(row, attempts),
        )
        for row in rows
    ]
    return DeliveryPage(items=items, total=total, page=page, page_size=page_size)


async def replay(
    conn: AsyncConnection,
    *,
    destination: str,
    entity: str | None,
    state: str | None,
    uids: list[UUID] | None,
    batch_uid: UUID | None = None,
) -> ReplayResult:
    """Make matching deliveries pending and due now (same ids, waiting retries
    cancelled); 404 for an unknown destination."""
    found = await destinations_service.find_destination(conn, name_or_uid=destination)
    now = datetime.now(UTC)
    ledger = LedgerAdmin(conn)
    replayed = await ledger.replay(
        destination_uid=found["uid"],
        entity=entity,
        state=state,
        uids=uids,
        batch_uid=batch_uid,
        now=now,
    )
    await StreamRepository(conn).wake_destination(found["uid"], now=now)
    return ReplayResult(replayed=replayed)


async def summary(
    conn: AsyncConnection, target: AsyncConnection | None = None
) -> list[dict[str, Any]]:
    """Per destination and entity: ``pending``, ``delivering``, ``dead``, the oldest
    undelivered event's creation (``oldest_pending_at``) and how far the stream has read
    the outbox (``read_through``). With the ``target`` connection, pending also counts
    the events in the outbox the stream has not read yet (``unread``: a stream that
    delivers straight from the outbox keeps its backlog there, not in the ledger)."""
    # the cursors first, then the ledger (each statement reads its own snapshot): a step
    # that copies events moves the cursor and adds them to the ledger in one transaction,
    # so one committed between the two reads is counted twice (ledger and unread) for a
    # moment, never not at all (the other order showed nothing waiting, read through the
    # head, while the copied events were still to be sent)
    streams = {(r["destination"], r["entity"]): r for r in await StreamRepository(conn).positions()}
    ledger = {(r["destination"], r["entity"]): r for r in await LedgerAdmin(conn).summary()}
    unread = (
        await OutboxRepository(target).unread(
            sorted({(r["entity"], r["cursor"]) for r in streams.values()})
        )
        if target is not None
        else {}
    )
    rows = []
    for key in sorted(ledger.keys() | streams.keys()):
        held = ledger.get(key, {})
        stream = streams.get(key)
        waiting, since = unread.get((key[1], stream["cursor"]), (0, None)) if stream else (0, None)
        oldest = [moment for moment in (held.get("oldest_pending_at"), since) if moment]
        rows.append(
            {
                "destination": key[0],
                "entity": key[1],
                "pending": held.get("pending", 0) + waiting,
                "delivering": held.get("delivering", 0),
                "dead": held.get("dead", 0),
                "unread": waiting,
                "read_through": stream["cursor"] if stream else None,
                "oldest_pending_at": min(oldest) if oldest else None,
            }
        )
    return rows


async def prune_deliveries(conn: AsyncConnection, *, older_than: datetime) -> dict[str, int | None]:
    """Delete deliveries delivered before ``older_than``; per entity, the highest outbox id
    every destination is done with (what :func:`prune_outbox` may delete)."""
    ledger = LedgerAdmin(conn)
    await StreamRepository(conn).ensure_streams(now=datetime.now(UTC))
    await ledger.prune_delivered(older_than=older_than)
    return await ledger.outbox_safe_ids()


async def prune_outbox(
    target: AsyncConnection, *, safe_ids: dict[str, int | None], older_than: datetime
) -> int:
    """Delete outbox events older than ``older_than`` that every destination is done with."""
    outbox = OutboxRepository(target)
    pruned = 0
    for entity, up_to in safe_ids.items():
        pruned += await outbox.prune(entity=entity, up_to=up_to, older_than=older_than)
    return pruned


async def streams(conn: AsyncConnection, target: AsyncConnection) -> list[DeliveryStream]:
    """Every delivery stream (and any other destination and entity with undelivered
    events): how far it has read the outbox, what waits, and the lag."""
    now = datetime.now(UTC)
    return [
        DeliveryStream(
            destination=row["destination"],
            entity=row["entity"],
            read_through=row["read_through"],
            unread=row["unread"],
            pending=row["pending"],
            delivering=row["delivering"],
            dead=row["dead"],
            lag_seconds=(
                max((now - row["oldest_pending_at"]).total_seconds(), 0.0)
                if row["oldest_pending_at"]
                else 0.0
            ),
        )
        for row in await summary(conn, target)
    ]
