"""What became of a batch, stored: its attempts and every event's new state.

Delivered and dead-lettered events as the destination said; a failed batch per
:class:`~syncflow.delivery.transport.DeliveryFailed`'s action: ``retry`` waits
``retry_delay`` (``Retry-After`` when longer) unless that passes the retry horizon since
its first attempt (then it is dead-lettered), ``dead`` is dead-lettered with the answer,
``gone`` pauses the destination and leaves the events pending.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.ids import new_id
from syncflow.delivery.apply import Outcome, apply_to_schedulehub, apply_to_webhook
from syncflow.delivery.ledger import DeliveryLedger
from syncflow.delivery.metrics import DEAD_LETTERED, DELIVERED
from syncflow.delivery.schedulehub import ScheduleHubClient
from syncflow.delivery.transport import Attempt, DeliveryFailed, recording
from syncflow.delivery.webhook import WebhookClient
from syncflow.destinations import service as destinations_service
from syncflow.settings import Settings


def retry_delay(settings: Settings, attempts: int) -> float:
    """Exponential backoff with jitter: between half and all of ``base * 2**attempts``,
    at most ``delivery_retry_max_seconds``."""
    ceiling = min(
        settings.delivery_retry_max_seconds,
        settings.delivery_retry_base_seconds * 2 ** min(attempts, 40),
    )
    return random.uniform(ceiling / 2, ceiling)


@dataclass
class SentBatch:
    """One batch as sent: where, which events, the requests made and what came of it."""

    destination: Any
    entity: str
    batch_uid: UUID
    rows: list[dict[str, Any]]
    attempts: list[Attempt]
    outcome: Outcome | None = None
    failure: DeliveryFailed | None = None

    def attempt_rows(self) -> list[dict[str, Any]]:
        ids = [row["event_id"] for row in self.rows]
        return [
            {
                "uid": new_id(),
                "destination_uid": self.destination["uid"],
                "entity_name": self.entity,
                "batch_uid": self.batch_uid,
                "event_ids": ids,
                "request": attempt.request,
                "status_code": attempt.status_code,
                "latency_ms": attempt.latency_ms,
                "response": attempt.response,
                "error": attempt.error,
                "attempted_at": attempt.attempted_at,
            }
            for attempt in self.attempts
        ]


async def send(
    client: ScheduleHubClient | WebhookClient,
    destination: Any,
    entity: str,
    batch_uid: UUID,
    rows: list[dict[str, Any]],
    events: dict[int, dict[str, Any]],
) -> SentBatch:
    """Send a batch (``rows``: its events as the ledger has them, ``events``: as they are
    sent) and collect what the destination made of it, or why it failed as a whole,
    with the requests it took."""
    sent = SentBatch(
        destination=destination, entity=entity, batch_uid=batch_uid, rows=rows, attempts=[]
    )
    with recording() as attempts:
        try:
            if isinstance(client, ScheduleHubClient):
                path = destination["entity_paths"].get(entity, entity)
                sent.outcome = await apply_to_schedulehub(
                    client, path=path, rows=rows, events=events
                )
            else:
                sent.outcome = await apply_to_webhook(
                    client,
                    destination=destination["name"],
                    entity=entity,
                    batch_uid=str(batch_uid),
                    rows=rows,
                    events=events,
                )
        except DeliveryFailed as exc:
            sent.failure = exc
        except (KeyError, TypeError, ValueError) as exc:
            # an answer of an unexpected shape: retried on the schedule like an outage,
            # so it never spins and ends as a dead letter that says what went wrong
            logger.opt(exception=exc).error("unexpected answer while delivering: {}", exc)
            sent.failure = DeliveryFailed(
                "retry", f"unexpected answer: {type(exc).__name__}: {exc}"
            )
    sent.attempts = attempts
    return sent


async def record(
    conn: AsyncConnection, batch: SentBatch, *, settings: Settings, now: datetime
) -> None:
    """Store the batch's attempts and its events' new states (the caller holds the lease
    in this transaction)."""
    ledger = DeliveryLedger(conn)
    uid = batch.destination["uid"]
    await ledger.add_attempts(batch.attempt_rows())
    if batch.outcome is not None:
        await ledger.set_state(
            batch.outcome.delivered, destination_uid=uid, state="delivered", now=now
        )
        for event_id, error in batch.outcome.dead.items():
            await ledger.set_state(
                [event_id], destination_uid=uid, state="dead", now=now, error=error
            )
    elif batch.failure is not None:
        await _record_failure(ledger, conn, batch, batch.failure, settings=settings, now=now)


def count(batch: SentBatch) -> None:
    """Add a recorded batch to this process's delivery counters."""
    name = batch.destination["name"]
    if batch.outcome is not None:
        DELIVERED.labels(name, batch.entity).inc(len(batch.outcome.delivered))
        if batch.outcome.dead:
            DEAD_LETTERED.labels(name, batch.entity).inc(len(batch.outcome.dead))
            logger.warning("{} events dead-lettered by the destination", len(batch.outcome.dead))
    elif batch.failure is not None and batch.failure.action == "dead":
        DEAD_LETTERED.labels(name, batch.entity).inc(len(batch.rows))


async def _record_failure(
    ledger: DeliveryLedger,
    conn: AsyncConnection,
    batch: SentBatch,
    failure: DeliveryFailed,
    *,
    settings: Settings,
    now: datetime,
) -> None:
    uid = batch.destination["uid"]
    ids = [row["event_id"] for row in batch.rows]
    message = str(failure)
    if failure.action == "gone":
        await destinations_service.pause_destination(
            conn, settings=settings, uid=uid, reason=f"410 Gone: {message}"
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
    attempts = max(row["attempts"] for row in batch.rows)
    delay = max(retry_delay(settings, attempts), failure.retry_after or 0.0)
    first = min(row["first_attempt_at"] or now for row in batch.rows)
    horizon = timedelta(seconds=settings.delivery_retry_horizon_seconds)
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
