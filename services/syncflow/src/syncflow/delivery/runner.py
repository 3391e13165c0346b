"""The delivery worker: any SyncFlow worker leases delivery streams and delivers them.

One step on a leased stream (a destination's delivery of one entity):

1. events left ``delivering`` by a dead worker become pending again (their batch is
   sent again as it was: ScheduleHub by state, webhooks under the same ``webhook-id``);
2. new outbox events (target database) are copied into ``deliveries`` and the stream's
   cursor moves past them, in one transaction;
3. a batch due for a retry is sent again, else a new batch is formed (see
   :mod:`syncflow.delivery.ledger` for the order rules); a child entity waits until
   its parents' streams have copied their outbox;
4. the outcome is recorded, fenced by the lease: delivered, dead-lettered, or pending
   until the next retry (exponential backoff with jitter, ``Retry-After`` honoured,
   dead-lettered once ``delivery_retry_horizon_seconds`` have passed since the first
   attempt); a 410 pauses the destination with the reason.

The lease is renewed by a heartbeat while a batch is out. A worker killed mid-batch
leaves its events ``delivering``; its lease expires and any worker resumes the stream.
"""

import asyncio
import random
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
from syncflow.delivery.apply import Outcome, apply_to_schedulehub, apply_to_webhook
from syncflow.delivery.ledger import DeliveryLedger
from syncflow.delivery.metrics import DEAD_LETTERED, DELIVERED
from syncflow.delivery.repository import OutboxRepository
from syncflow.delivery.schedulehub import ScheduleHubClient
from syncflow.delivery.transport import Attempt, DeliveryFailed
from syncflow.delivery.webhook import WebhookClient
from syncflow.destinations import service as destinations_service
from syncflow.entities import service as entities_service
from syncflow.settings import Settings

# outbox events copied into deliveries per step
COPY_LIMIT = 5_000
Client = ScheduleHubClient | WebhookClient


def retry_delay(settings: Settings, attempts: int) -> float:
    """Exponential backoff with jitter: between half and all of ``base * 2**attempts``,
    at most ``delivery_retry_max_seconds``."""
    ceiling = min(
        settings.delivery_retry_max_seconds,
        settings.delivery_retry_base_seconds * 2 ** min(attempts, 40),
    )
    return random.uniform(ceiling / 2, ceiling)


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
        # one client per stream: a stream is delivered by one lane at a time, so a client's
        # recorded attempts are that stream's
        self._clients: dict[tuple[UUID, str], tuple[datetime, Client]] = {}
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
                await DeliveryLedger(conn).release_all(worker_id=self.worker_id)
        except (OSError, SQLAlchemyError) as exc:
            logger.warning("could not hand back delivery leases ({})", type(exc).__name__)

    async def run_once(self) -> bool:
        """Lease one due stream and take one step on it; ``False`` when none was due."""
        async with self.database.transaction() as conn:
            ledger = DeliveryLedger(conn)
            clock = asyncio.get_running_loop().time()
            if clock - self._streams_checked >= self.settings.delivery_poll_seconds:
                self._streams_checked = clock
                await ledger.ensure_streams(now=self.now())
            stream = await ledger.claim_stream(
                worker_id=self.worker_id,
                lease_seconds=self.settings.lease_seconds,
                now=self.now(),
            )
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
                await DeliveryLedger(conn).release(
                    destination_uid, entity, worker_id=self.worker_id, next_check_at=next_check
                )
        return True

    async def _heartbeat(self, destination_uid: UUID, entity: str) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                async with self.database.transaction() as conn:
                    held = await DeliveryLedger(conn).renew_lease(
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
        """Copy new events, then send one batch; whether there may be more to do now."""
        destination = stream["destination"]
        entity = stream["entity_name"]
        uid = destination["uid"]
        async with self.target_database.transaction() as target:
            events = await OutboxRepository(target).events_for_delivery(
                entity=entity, after=stream["cursor"], limit=COPY_LIMIT
            )
        async with self.database.transaction() as conn:
            ledger = DeliveryLedger(conn)
            await ledger.resume_interrupted(uid, entity, now=self.now())
            await ledger.add_events(uid, entity, events=events, now=self.now())
            batch_uid = await ledger.due_batch(uid, entity, now=self.now())
            if batch_uid is None and await self._parents_copied(conn, destination, entity):
                batch_uid = new_id()
                formed = await ledger.form_batch(
                    uid,
                    entity,
                    keys=destination["batch_size"],
                    batch_uid=batch_uid,
                    now=self.now(),
                )
                if not formed:
                    batch_uid = None
            rows = await ledger.start_batch(batch_uid, now=self.now()) if batch_uid else []
        if not rows:
            return len(events) == COPY_LIMIT
        assert batch_uid is not None
        await self._send(destination, entity, batch_uid, rows)
        return True

    async def _parents_copied(self, conn: Any, destination: Any, entity: str) -> bool:
        """Whether the destination's streams of the entity's parents have copied every
        outbox event there is (else a child could go out before its parent)."""
        try:
            spec = await entities_service.load_spec(conn, entity)
        except NotFound:
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
        cursors = await DeliveryLedger(conn).cursors(destination["uid"], parents)
        if not cursors:
            return True
        async with self.target_database.transaction() as target:
            heads = await OutboxRepository(target).heads(sorted(cursors))
        return all(cursors[name] >= heads[name] for name in cursors)

    async def _client(self, destination: Any, entity: str) -> Client:
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
        self, destination: Any, entity: str, batch_uid: UUID, rows: list[dict[str, Any]]
    ) -> None:
        client = await self._client(destination, entity)
        client.transport.attempts.clear()
        async with self.target_database.transaction() as target:
            events = await OutboxRepository(target).events_to_send([r["event_id"] for r in rows])
        outcome: Outcome | None = None
        failure: DeliveryFailed | None = None
        pruned = [row for row in rows if row["event_id"] not in events]
        if pruned:  # replayed after retention removed its outbox row: nothing left to send
            outcome = Outcome(
                dead=dict.fromkeys(
                    (row["event_id"] for row in rows), "the outbox event was pruned (retention)"
                )
            )
            await self._record(destination, entity, batch_uid, rows, outcome, None, client)
            return
        try:
            if isinstance(client, ScheduleHubClient):
                path = destination["entity_paths"].get(entity, entity)
                outcome = await apply_to_schedulehub(client, path=path, rows=rows, events=events)
            else:
                outcome = await apply_to_webhook(
                    client,
                    destination=destination["name"],
                    entity=entity,
                    batch_uid=str(batch_uid),
                    rows=rows,
                    events=events,
                )
        except DeliveryFailed as exc:
            failure = exc
        except (KeyError, TypeError, ValueError) as exc:
            # an answer of an unexpected shape: retried on the schedule like an outage, so
            # it never spins and ends as a dead letter that says what went wrong
            logger.opt(exception=exc).error("unexpected answer while delivering: {}", exc)
            failure = DeliveryFailed("retry", f"unexpected answer: {type(exc).__name__}: {exc}")
        await self._record(destination, entity, batch_uid, rows, outcome, failure, client)

    async def _record(
        self,
        destination: Any,
        entity: str,
        batch_uid: UUID,
        rows: list[dict[str, Any]],
        outcome: Outcome | None,
        failure: DeliveryFailed | None,
        client: Client,
    ) -> None:
        """Store the attempts and each event's new state, if the lease is still ours."""
        uid = destination["uid"]
        now = self.now()
        ids = [row["event_id"] for row in rows]
        attempts = [
            _attempt_row(a, destination_uid=uid, entity=entity, batch_uid=batch_uid, ids=ids)
            for a in client.transport.attempts
        ]
        async with self.database.transaction() as conn:
            ledger = DeliveryLedger(conn)
            if not await ledger.renew_lease(
                uid, entity, worker_id=self.worker_id, lease_seconds=self.settings.lease_seconds
            ):
                logger.warning("lease lost while sending batch {}; not recording it", batch_uid)
                return
            await ledger.add_attempts(attempts)
            if outcome is not None:
                await ledger.set_state(
                    outcome.delivered, destination_uid=uid, state="delivered", now=now
                )
                for event_id, error in outcome.dead.items():
                    await ledger.set_state(
                        [event_id], destination_uid=uid, state="dead", now=now, error=error
                    )
            elif failure is not None:
                await self._record_failure(conn, destination, rows, failure, now)
        if outcome is not None:
            name = destination["name"]
            DELIVERED.labels(name, entity).inc(len(outcome.delivered))
            if outcome.dead:
                DEAD_LETTERED.labels(name, entity).inc(len(outcome.dead))
                logger.warning("{} events dead-lettered by the destination", len(outcome.dead))
        elif failure is not None and failure.action == "dead":
            DEAD_LETTERED.labels(destination["name"], entity).inc(len(rows))

    async def _record_failure(
        self,
        conn: Any,
        destination: Any,
        rows: list[dict[str, Any]],
        failure: DeliveryFailed,
        now: datetime,
    ) -> None:
        ledger = DeliveryLedger(conn)
        uid = destination["uid"]
        ids = [row["event_id"] for row in rows]
        message = str(failure)
        if failure.action == "gone":
            await destinations_service.pause_destination(
                conn, settings=self.settings, uid=uid, reason=f"410 Gone: {message}"
            )
            await ledger.set_state(
                ids,
                destination_uid=uid,
                state="pending",
                now=now,
                next_attempt_at=now,
                error=message,
                count_attempt=False,
            )
            return
        if failure.action == "dead":
            logger.warning("batch dead-lettered: {}", message)
            await ledger.set_state(ids, destination_uid=uid, state="dead", now=now, error=message)
            return
        attempts = max(row["attempts"] for row in rows)
        delay = max(retry_delay(self.settings, attempts), failure.retry_after or 0.0)
        first = min(row["first_attempt_at"] or now for row in rows)
        horizon = timedelta(seconds=self.settings.delivery_retry_horizon_seconds)
        if now + timedelta(seconds=delay) - first > horizon:
            logger.warning("batch dead-lettered after retrying for {}: {}", horizon, message)
            await ledger.set_state(
                ids,
                destination_uid=uid,
                state="dead",
                now=now,
                error=f"gave up after {attempts + 1} attempts: {message}",
            )
            return
        logger.info("batch failed ({}); retry in {:.2f}s", message, delay)
        await ledger.set_state(
            ids,
            destination_uid=uid,
            state="pending",
            now=now,
            error=message,
            next_attempt_at=now + timedelta(seconds=delay),
        )


def _attempt_row(
    attempt: Attempt, *, destination_uid: UUID, entity: str, batch_uid: UUID, ids: list[int]
) -> dict[str, Any]:
    return {
        "uid": new_id(),
        "destination_uid": destination_uid,
        "entity_name": entity,
        "batch_uid": batch_uid,
        "event_ids": ids,
        "request": attempt.request,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "response": attempt.response,
        "error": attempt.error,
        "attempted_at": attempt.attempted_at,
    }
