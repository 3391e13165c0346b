"""The delivery worker: any SyncFlow worker leases delivery streams and delivers them.

One step on a leased stream (a destination's delivery of one entity):

1. events left ``delivering`` by a dead worker become pending again (their batch is
   sent again as it was: ScheduleHub by state, webhooks under the same ``webhook-id``);
2. new outbox events (target database) are copied into ``deliveries`` and the stream's
   cursor moves past them, in one transaction;
3. batches due for a retry are sent again and new batches are formed (see
   :mod:`syncflow.delivery.ledger` for the order rules), up to
   ``delivery_batches_in_flight`` out at once: their keys never overlap, so a key's
   later event never overtakes its earlier one; a child entity waits until its
   parents' streams have copied their outbox;
4. each batch's outcome is recorded as it comes, fenced by the lease: delivered,
   dead-lettered, or pending until the next retry (exponential backoff with jitter,
   ``Retry-After`` honoured, dead-lettered once ``delivery_retry_horizon_seconds`` have
   passed since the first attempt); a 410 pauses the destination with the reason.

The lease is renewed by a heartbeat while a batch is out. A worker killed mid-batch
leaves its events ``delivering``; its lease expires and any worker resumes the stream.
"""

import asyncio
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from loguru import logger
from sqlalchemy.exc import SQLAlchemyError

from bridge_core.db.transaction import Database
from bridge_core.errors import NotFound
from bridge_core.ids import new_id
from syncflow.clock import utc_now
from syncflow.delivery import outcome as outcome_records
from syncflow.delivery import straight
from syncflow.delivery.apply import Outcome
from syncflow.delivery.ledger import DeliveryLedger
from syncflow.delivery.outbox_reads import OutboxReads
from syncflow.delivery.outcome import SentBatch
from syncflow.delivery.read_ahead import WindowsAhead
from syncflow.delivery.repository import OutboxRepository
from syncflow.delivery.schedulehub import ScheduleHubClient
from syncflow.delivery.streams import StreamRepository
from syncflow.delivery.webhook import WebhookClient
from syncflow.destinations import service as destinations_service
from syncflow.domain import EntitySpec
from syncflow.entities import service as entities_service
from syncflow.settings import Settings

# outbox events copied into deliveries per step
COPY_LIMIT = 5_000
Client = ScheduleHubClient | WebhookClient


class DeliveryRunner:
    """Delivers leased streams one step at a time until stopped."""

    def __init__(
        self,
        *,
        database: Database,
        target_database: Database,
        settings: Settings,
        worker_id: str,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.database = database
        self.target_database = target_database
        self.settings = settings
        self.worker_id = worker_id
        self.now = now
        self._stopping = asyncio.Event()
        # one client per stream (a ScheduleHub login lasts); its batches in flight record
        # their attempts apart (transport.recording)
        self._clients: dict[tuple[UUID, str], tuple[datetime, Client]] = {}
        # the next window of straight streams, read while the current one is out
        self.windows_ahead = WindowsAhead()
        self._streams_checked = 0.0

    def stop(self) -> None:
        self._stopping.set()

    async def run_forever(self) -> None:
        """Deliver ``delivery_concurrency`` streams at once until :meth:`stop`."""
        logger.info(
            "delivery worker {} started ({} lanes)",
            self.worker_id,
            self.settings.delivery_concurrency,
        )
        try:
            await asyncio.gather(*(self._lane() for _ in range(self.settings.delivery_concurrency)))
        finally:
            await self.windows_ahead.close()
            for _, client in self._clients.values():
                await client.aclose()
            self._clients.clear()
        logger.info("delivery worker {} stopped", self.worker_id)

    async def _lane(self) -> None:
        """Take steps on due streams; an error in one step never stops the lane."""
        while not self._stopping.is_set():
            try:
                worked = await self.run_once()
            except Exception as exc:
                logger.opt(exception=exc).error("delivery worker error: {}", exc)
                worked = False
            if not worked:
                with suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stopping.wait(), timeout=self.settings.delivery_poll_seconds
                    )

    async def shutdown(self, task: "asyncio.Task[None]") -> None:
        """Stop now (a batch out is abandoned: it is sent again) and hand the leases back."""
        self.stop()
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        try:
            async with self.database.transaction() as conn:
                await StreamRepository(conn).release_all(worker_id=self.worker_id)
        except (OSError, SQLAlchemyError) as exc:
            logger.warning("could not hand back delivery leases ({})", type(exc).__name__)

    async def run_once(self) -> bool:
        """Lease one due stream and take one step on it; ``False`` when none was due."""
        async with self.database.transaction() as conn:
            streams = StreamRepository(conn)
            clock = asyncio.get_running_loop().time()
            if clock - self._streams_checked >= self.settings.delivery_poll_seconds:
                self._streams_checked = clock
                await streams.ensure_streams(now=self.now())
            stream = await streams.claim_stream(
                worker_id=self.worker_id,
                lease_seconds=self.settings.lease_seconds,
                now=self.now(),
                during_sync=self.settings.delivery_during_sync,
            )
        # a window read ahead this long ago will not be taken (its stream's step went
        # to another worker): dropped whether this worker is busy or idle
        self.windows_ahead.drop_older(self.settings.lease_seconds)
        if stream is None:
            return False
        destination_uid = stream["destination_uid"]
        entity = stream["entity_name"]
        heartbeat = asyncio.create_task(self._heartbeat(destination_uid, entity))
        next_check = self.now() + timedelta(seconds=self.settings.delivery_poll_seconds)
        try:
            with logger.contextualize(destination=stream["destination"]["name"], entity=entity):
                busy = await self._step(stream)
            if busy:
                next_check = self.now()
            else:
                async with self.database.transaction() as conn:
                    due = await DeliveryLedger(conn).next_due(destination_uid, entity)
                if due is not None:
                    next_check = max(min(due, next_check), self.now())
        finally:
            heartbeat.cancel()
            with suppress(asyncio.CancelledError):
                await heartbeat
            async with self.database.transaction() as conn:
                await StreamRepository(conn).release(
                    destination_uid, entity, worker_id=self.worker_id, next_check_at=next_check
                )
        return True

    async def _heartbeat(self, destination_uid: UUID, entity: str) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                async with self.database.transaction() as conn:
                    held = await StreamRepository(conn).renew_lease(
                        destination_uid,
                        entity,
                        worker_id=self.worker_id,
                        lease_seconds=self.settings.lease_seconds,
                    )
            except (OSError, SQLAlchemyError) as exc:
                # the next beat tries again; the outcome is fenced by the lease anyway
                logger.warning("could not renew a delivery lease ({})", type(exc).__name__)
                continue
            if not held:
                logger.warning("lease on delivery stream {}/{} lost", destination_uid, entity)
                return

    async def _step(self, stream: dict[str, Any]) -> bool:
        """Send up to ``delivery_batches_in_flight`` batches of the ledger at once (new
        events copied into it first, unless the stream goes straight from the outbox and
        then goes on with that, :mod:`.straight`); whether there may be more to do now."""
        destination = stream["destination"]
        entity = stream["entity_name"]
        uid = destination["uid"]
        events: list[dict[str, Any]] = []
        spec = await self._spec(entity)
        goes_straight = spec is not None and self._goes_straight(destination, spec)
        if not goes_straight:
            async with self.target_database.transaction() as target:
                events = await OutboxRepository(target).events_for_delivery(
                    entity=entity, after=stream["cursor"], limit=COPY_LIMIT
                )
        async with self.database.transaction() as conn:
            ledger = DeliveryLedger(conn)
            await ledger.resume_interrupted(uid, entity, now=self.now())
            await ledger.add_events(uid, entity, events=events, now=self.now())
            batches = await self._start_batches(conn, ledger, destination, spec, entity)
            if batches:
                # read after the batches' events: a destination changed (new secrets, new
                # credentials) before its dead events were replayed sends them changed,
                # not as the stream was claimed (a replay then died again with the 401)
                destination = await StreamRepository(conn).destination(uid) or destination
        if not batches:
            if goes_straight and spec is not None:
                return await straight.step(self, stream, spec)
            return len(events) == COPY_LIMIT
        client = await self.client(destination, entity)  # once: the batches share it
        # a batch that fails here is abandoned with the others (cancelled): their events
        # stay delivering and the next step sends them again by state
        async with asyncio.TaskGroup() as group:
            for batch_uid, rows in batches.items():
                group.create_task(self._send(client, destination, spec, entity, batch_uid, rows))
        return True

    async def _spec(self, entity: str) -> EntitySpec | None:
        """The entity's spec; ``None`` once it is gone (its events cannot be read)."""
        async with self.database.transaction() as conn:
            try:
                return await entities_service.load_spec(conn, entity)
            except NotFound:
                return None

    def _goes_straight(self, destination: Any, spec: EntitySpec) -> bool:
        """Whether the stream's new events go straight from the outbox: a ScheduleHub
        destination (applied by state) and an entity without parents (a child's events
        wait on its parents' in the ledger)."""
        straight = destination["kind"] == "schedulehub" and self.settings.delivery_straight
        return straight and not spec.parent_refs

    async def _start_batches(
        self,
        conn: Any,
        ledger: DeliveryLedger,
        destination: Any,
        spec: EntitySpec | None,
        entity: str,
    ) -> dict[UUID, list[dict[str, Any]]]:
        """Due retries first, then new batches, up to ``delivery_batches_in_flight``,
        started: their events by batch. Keys of two batches never overlap (a key in a
        batch blocks the next one's formation), so batches may go out side by side."""
        uid = destination["uid"]
        limit = self.settings.delivery_batches_in_flight
        batches: dict[UUID, list[dict[str, Any]]] = {}
        while len(batches) < limit:
            due = await ledger.due_batch(uid, entity, now=self.now())
            if due is None:
                break
            batches[due] = await ledger.start_batch(due, now=self.now())
        if len(batches) == limit or not await self._parents_copied(conn, destination, spec):
            return batches
        while len(batches) < limit:
            batch_uid = new_id()
            formed = await ledger.form_batch(
                uid, entity, keys=destination["batch_size"], batch_uid=batch_uid, now=self.now()
            )
            if not formed:
                break
            batches[batch_uid] = formed
        return batches

    async def _parents_copied(self, conn: Any, destination: Any, spec: EntitySpec | None) -> bool:
        """Whether the destination's streams of the entity's parents have copied every
        outbox event there is (else a child could go out before its parent); ``False``
        once the entity is gone."""
        if spec is None:
            return False
        delivered = destination["entities"]
        parents = sorted(
            {
                ref.parent_entity
                for ref in spec.parent_refs
                if not delivered or ref.parent_entity in delivered
            }
        )
        if not parents:
            return True
        cursors = await StreamRepository(conn).cursors(destination["uid"], parents)
        if not cursors:
            return True
        async with self.target_database.transaction() as target:
            heads = await OutboxRepository(target).heads(sorted(cursors))
        return all(cursors[name] >= heads[name] for name in cursors)

    async def client(self, destination: Any, entity: str) -> Client:
        """The stream's client, kept between batches (a ScheduleHub login lasts)."""
        cached = self._clients.get((destination["uid"], entity))
        if cached is not None and cached[0] == destination["updated_at"]:
            return cached[1]
        if cached is not None:
            await cached[1].aclose()  # the destination changed: new URL or credentials
        credentials = destinations_service.credentials(self.settings, destination)
        client: Client
        if destination["kind"] == "schedulehub":
            client = ScheduleHubClient(
                destination["url"],
                api_prefix=destination["api_prefix"],
                username=destination["username"],
                password=credentials.password,
                token=credentials.token,
                timeout=destination["timeout_s"],
            )
        else:
            client = WebhookClient(
                destination["url"], secrets=credentials.secrets, timeout=destination["timeout_s"]
            )
        self._clients[(destination["uid"], entity)] = (destination["updated_at"], client)
        return client

    async def _send(
        self,
        client: Client,
        destination: Any,
        spec: EntitySpec | None,
        entity: str,
        batch_uid: UUID,
        rows: list[dict[str, Any]],
    ) -> None:
        events: dict[int, dict[str, Any]] = {}
        if spec is not None:
            async with self.target_database.transaction() as target:
                events = await OutboxReads(target).to_send(
                    spec, [r["event_id"] for r in rows], paths=destination["entity_paths"]
                )
        if any(row["event_id"] not in events for row in rows):
            # replayed after retention removed its outbox row, or its entity is gone
            gone = "the outbox event was pruned (retention) or its entity deleted"
            batch = SentBatch(
                destination=destination,
                entity=entity,
                batch_uid=batch_uid,
                rows=rows,
                attempts=[],
                outcome=Outcome(dead={row["event_id"]: gone for row in rows}),
            )
        else:
            batch = await outcome_records.send(client, destination, entity, batch_uid, rows, events)
        await self._record(batch)

    async def _record(self, batch: SentBatch) -> None:
        """Store what became of the batch, if the stream's lease is still this worker's."""
        async with self.database.transaction() as conn:
            if not await StreamRepository(conn).renew_lease(
                batch.destination["uid"],
                batch.entity,
                worker_id=self.worker_id,
                lease_seconds=self.settings.lease_seconds,
            ):
                logger.warning(
                    "lease lost while sending batch {}; not recording it", batch.batch_uid
                )
                return
            await outcome_records.record(conn, batch, settings=self.settings, now=self.now())
        outcome_records.count(batch)
