"""Schedules: storing them, and queueing the runs that are due (called by the worker).

A run is queued only while its window is open; one that comes due outside it moves
to the window's next opening. A run due while the entity still has a batch (say, a
background sync paused until tonight) is skipped, not stacked. A scheduled batch
carries its schedule's window and ``days_to_complete`` (``sync_batches.options``),
so the runner can pause it at the window's end and after each daily portion.
"""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.errors import Conflict, NotFound, Unprocessable
from bridge_core.ids import new_id
from syncflow.schedules.repository import ScheduleRepository
from syncflow.schedules.schemas import ScheduleBody, ScheduleOut, SchedulePage
from syncflow.schedules.timing import ScheduleTiming
from syncflow.sync import service as sync_service
from syncflow.sync.schemas import BatchStatus


def _out(row: dict[str, Any]) -> ScheduleOut:
    return ScheduleOut(entity=row["entity_name"], **row)


def _timing(row: dict[str, Any]) -> ScheduleTiming:
    return ScheduleTiming.of(
        interval_seconds=row["interval_seconds"],
        cron=row["cron"],
        timezone=row["timezone"],
        window_start=row["window_start"],
        window_end=row["window_end"],
    )


def _batch_options(row: dict[str, Any]) -> dict[str, Any] | None:
    """What a batch queued by this schedule runs under (``None``: straight through)."""
    if row["window_start"] is None and row["days_to_complete"] is None:
        return None
    return {
        "timezone": row["timezone"],
        "window_start": row["window_start"],
        "window_end": row["window_end"],
        "days_to_complete": row["days_to_complete"],
    }


async def _values(conn: AsyncConnection, body: ScheduleBody, now: datetime) -> dict[str, Any]:
    if not await ScheduleRepository(conn).entity_exists(body.entity):
        raise Unprocessable(f"entity: unknown entity {body.entity!r}")
    try:
        first_run = body.timing().first_run(now)
    except ValueError as exc:
        raise Unprocessable(f"cron: {exc}") from exc
    return {
        "entity_name": body.entity,
        "mode": body.mode.value,
        "interval_seconds": body.interval_seconds,
        "cron": body.cron,
        "timezone": body.timezone,
        "window_start": body.window_start,
        "window_end": body.window_end,
        "days_to_complete": body.days_to_complete,
        "is_active": body.is_active,
        "next_run_at": first_run if body.is_active else None,
        "updated_at": datetime.now(UTC),
    }


async def create_schedule(
    conn: AsyncConnection, *, body: ScheduleBody, now: datetime
) -> ScheduleOut:
    """Store a schedule and when it first runs; 422 for an unknown entity."""
    values = await _values(conn, body, now)
    row = await ScheduleRepository(conn).insert(
        {"uid": new_id(), "created_at": values["updated_at"], **values}
    )
    logger.info(
        "schedule {} for {} created; first run {}", row["uid"], body.entity, row["next_run_at"]
    )
    return _out(row)


async def list_schedules(
    conn: AsyncConnection, *, entity: str | None, page: int, page_size: int
) -> SchedulePage:
    """Schedules by entity."""
    rows, total = await ScheduleRepository(conn).page(entity=entity, page=page, page_size=page_size)
    return SchedulePage(items=[_out(r) for r in rows], total=total, page=page, page_size=page_size)


async def get_schedule(conn: AsyncConnection, *, uid: UUID) -> ScheduleOut:
    """One schedule; 404 when unknown."""
    row = await ScheduleRepository(conn).get(uid)
    if row is None:
        raise NotFound(f"schedule {uid} not found")
    return _out(row)


async def update_schedule(
    conn: AsyncConnection, *, uid: UUID, body: ScheduleBody, now: datetime
) -> ScheduleOut:
    """Replace a schedule; its next run is computed again. A batch it already queued keeps
    the window it was queued with."""
    values = await _values(conn, body, now)
    row = await ScheduleRepository(conn).update(uid, values)
    if row is None:
        raise NotFound(f"schedule {uid} not found")
    return _out(row)


async def delete_schedule(conn: AsyncConnection, *, uid: UUID) -> None:
    """Delete a schedule (a batch it queued runs on); 404 when unknown."""
    if not await ScheduleRepository(conn).delete(uid):
        raise NotFound(f"schedule {uid} not found")


async def enqueue_due(
    conn: AsyncConnection, *, now: datetime, limit: int = 100
) -> list[BatchStatus]:
    """Queue a batch for every schedule due at ``now`` whose window is open; move every
    due schedule's ``next_run_at`` on."""
    repository = ScheduleRepository(conn)
    queued: list[BatchStatus] = []
    for row in await repository.lock_due(now=now, limit=limit):
        uid, entity = row["uid"], row["entity_name"]
        timing = _timing(row)
        if timing.window is not None and not timing.window.is_open(now):
            await repository.set_next_run(uid, next_run_at=timing.deferred(now))
            continue
        next_run = timing.next_run(due=row["next_run_at"], now=now)
        try:
            batch = await sync_service.start_sync(
                conn,
                entity=entity,
                mode=row["mode"],
                dry_run=False,
                schedule_uid=uid,
                options=_batch_options(row),
            )
        except Conflict:
            logger.bind(entity=entity).info(
                "schedule {}: the entity still has an active batch; this run is skipped", uid
            )
            await repository.set_next_run(uid, next_run_at=next_run)
            continue
        await repository.set_next_run(
            uid, next_run_at=next_run, last_run_at=now, last_batch_uid=batch.batch_uid
        )
        logger.bind(entity=entity, batch=str(batch.batch_uid)).info(
            "schedule {} queued a {} batch; next run {}", uid, row["mode"], next_run.isoformat()
        )
        queued.append(batch)
    return queued
