"""Delivery straight from the outbox: a ScheduleHub stream's new events, sent without a
ledger row each, tracked only where something went wrong.

Copying every event into the ledger and writing it twice more on its way cost about
80 µs an event (bench/RESULTS.md); a first load of 1.5M rows took many times its sync.
Straight delivery reads a window of events after the stream's cursor, with their
records made by PostgreSQL, and sends it as batches side by side:

- a key's events in the window go in one batch, so batches out at once never share a
  key and a key's later event never overtakes its earlier one; a key with an event in
  the ledger still (waiting for a retry, dead, pending) is held back: its new events
  go into the ledger behind it, and the ledger's order rules take over;
- a batch ScheduleHub applied whole leaves only its attempts (which name its events);
  a batch with a rejected record, or that failed as a whole, is entered in the ledger
  as sent, and its outcome recorded there as for any batch (dead letters, retries with
  backoff, a 410 pausing the destination);
- then the cursor moves past the window, in the same transaction, fenced by the lease.

A worker killed mid-window leaves the cursor where it was: the next one sends the
window again, and ScheduleHub's ``batch/query`` shows what landed (applied by state,
nothing inserted twice). Webhooks keep the ledger's path: a message sent again after a
crash must carry the same ``webhook-id``, which a ledger batch keeps.
"""

import asyncio
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any
from uuid import UUID

from loguru import logger

from bridge_core.ids import new_id
from syncflow.delivery import outcome as outcome_records
from syncflow.delivery.ledger import DeliveryLedger
from syncflow.delivery.outbox_reads import OutboxReads
from syncflow.delivery.outcome import SentBatch
from syncflow.delivery.streams import StreamRepository
from syncflow.domain import EntitySpec

if TYPE_CHECKING:
    from syncflow.delivery.runner import DeliveryRunner

# keys with undelivered events in the ledger beyond which a window is copied into the
# ledger instead (the ledger's order rules are then the cheaper check)
OPEN_KEYS_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Window:
    """A window of a stream's events, split for sending."""

    events: list[dict[str, Any]]
    held_back: list[dict[str, Any]]
    batches: list[list[dict[str, Any]]]

    @property
    def end(self) -> int:
        return int(self.events[-1]["id"])


def split(events: list[dict[str, Any]], *, open_keys: set[str], keys_per_batch: int) -> Window:
    """Events of keys in ``open_keys`` held back, the others in batches of at most
    ``keys_per_batch`` keys, each key's events in one batch, oldest first."""
    held_back = [event for event in events if event["key_hash"] in open_keys]
    by_key: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event["key_hash"] not in open_keys:
            by_key.setdefault(event["key_hash"], []).append(event)
    keys = list(by_key)
    batches = []
    for start in range(0, len(keys), keys_per_batch):
        chosen = keys[start : start + keys_per_batch]
        batch = [event for key in chosen for event in by_key[key]]
        batches.append(sorted(batch, key=lambda event: event["id"]))
    return Window(events=events, held_back=held_back, batches=batches)


def ledger_rows(events: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """A batch's events as the ledger's rows of a batch just sent for the first time."""
    return [
        {
            "event_id": event["id"],
            "key_hash": event["key_hash"],
            "attempts": 0,
            "first_attempt_at": now,
        }
        for event in events
    ]


async def record(
    ledger: DeliveryLedger,
    window: Window,
    sent: list[SentBatch],
    *,
    destination_uid: UUID,
    entity: str,
    settings: Any,
    now: datetime,
) -> None:
    """Store what became of a window (see the module doc); the caller holds the lease in
    this transaction."""
    await ledger.insert_events(destination_uid, entity, events=window.held_back, now=now)
    by_id = {event["id"]: event for event in window.events}
    for batch in sent:
        await ledger.add_attempts(batch.attempt_rows())
        clean = batch.failure is None and batch.outcome is not None and not batch.outcome.dead
        if clean:
            continue
        events = [by_id[row["event_id"]] for row in batch.rows]
        await ledger.insert_events(
            destination_uid, entity, events=events, now=now, batch_uid=batch.batch_uid
        )
        await outcome_records.record(ledger.conn, batch, settings=settings, now=now)
    await ledger.move_cursor(destination_uid, entity, to=window.end, now=now)


async def read_window(
    runner: "DeliveryRunner", spec: EntitySpec, destination: Any, *, after: int, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` of the entity's events after ``after``, with their records."""
    async with runner.target_database.transaction() as target:
        return await OutboxReads(target).window(
            spec, after=after, limit=limit, paths=destination["entity_paths"]
        )


async def step(runner: "DeliveryRunner", stream: dict[str, Any], spec: EntitySpec) -> bool:
    """Send the next window of the outbox straight (:mod:`.straight`); whether there
    may be more to do now."""
    destination = stream["destination"]
    entity = stream["entity_name"]
    uid = destination["uid"]
    limit = int(destination["batch_size"]) * runner.settings.delivery_batches_in_flight
    ahead = runner.windows_ahead
    version = (destination["updated_at"], spec)  # an edit of either reshapes the window
    events = await ahead.take((uid, entity), after=stream["cursor"], version=version)
    if events is None:
        events = await read_window(runner, spec, destination, after=stream["cursor"], limit=limit)
    if not events:
        return False
    async with runner.database.transaction() as conn:
        open_keys = await DeliveryLedger(conn).open_keys(uid, entity, limit=OPEN_KEYS_LIMIT)
        if open_keys is None:  # many keys wait in the ledger: the window joins them
            await DeliveryLedger(conn).add_events(uid, entity, events=events, now=runner.now())
            return True
    window = split(events, open_keys=open_keys, keys_per_batch=destination["batch_size"])
    if len(events) == limit:  # more is waiting, likely: read it while these are out
        ahead.start(
            (uid, entity),
            after=window.end,
            version=version,
            read=partial(read_window, runner, spec, destination, after=window.end, limit=limit),
        )
    client = await runner.client(destination, entity)
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(
                outcome_records.send(
                    client,
                    destination,
                    entity,
                    new_id(),
                    ledger_rows(batch, runner.now()),
                    {event["id"]: event for event in batch},
                )
            )
            for batch in window.batches
        ]
    sent = [task.result() for task in tasks]
    async with runner.database.transaction() as conn:
        if not await StreamRepository(conn).renew_lease(
            uid, entity, worker_id=runner.worker_id, lease_seconds=runner.settings.lease_seconds
        ):
            logger.warning("lease lost while sending a window; not recording it")
            return False
        await record(
            DeliveryLedger(conn),
            window,
            sent,
            destination_uid=uid,
            entity=entity,
            settings=runner.settings,
            now=runner.now(),
        )
    for batch in sent:
        outcome_records.count(batch)
    return len(events) == limit
