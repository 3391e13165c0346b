"""All SQL on ``sync_batches``: creating, claiming with leases, pausing, progress, history.

Leases are timed by the database's clock (``clock_timestamp()``), so workers on
machines whose clocks disagree still agree on when a lease has expired. When a
paused batch may run again (``not_before``) is decided by the caller's clock.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, DateTime, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from bridge_core.db.repository import Repository
from bridge_core.errors import Conflict
from bridge_core.ids import new_id
from syncflow.domain import Counters
from syncflow.sync.schemas import BatchFilter
from syncflow.tables import sync_batches

ACTIVE = ("pending", "running")
FINISHED = ("completed", "failed", "cancelled")


def _database_now() -> ColumnElement[datetime]:
    return func.clock_timestamp(type_=DateTime(timezone=True))


def _lease_until(lease_seconds: int) -> ColumnElement[datetime]:
    return _database_now() + timedelta(seconds=lease_seconds)


class BatchRepository(Repository):
    async def create(
        self,
        *,
        entity: str,
        mode: str,
        dry_run: bool,
        schedule_uid: UUID | None = None,
        checkpoint: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A new pending batch; 409 while the entity has a pending or running one."""
        uid = new_id()
        values = {
            "uid": uid,
            "entity_name": entity,
            "mode": mode,
            "dry_run": dry_run,
            "status": "pending",
            "counters": Counters().as_dict(),
            "stage_seconds": {},
            "warnings": [],
            "progress": {},
            "checkpoint": checkpoint,
            "schedule_uid": schedule_uid,
            "options": options,
            "stop_requested": False,
            "created_at": datetime.now(UTC),
        }
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(sync_batches.insert().values(**values))
        except IntegrityError as exc:
            active = await self.active_for(entity)
            running = f"{active['uid']} ({active['status']})" if active else "?"
            raise Conflict(f"entity {entity!r} already has a running batch {running}") from exc
        created = await self.get(uid)
        assert created is not None
        return created

    async def finished_among(self, uids: Sequence[UUID]) -> list[UUID]:
        """Which of these batches have ended (completed, failed or cancelled)."""
        if not uids:
            return []
        rows = await self.conn.execute(
            select(sync_batches.c.uid).where(
                sync_batches.c.uid.in_(list(uids)), sync_batches.c.status.in_(FINISHED)
            )
        )
        return list(rows.scalars())

    async def get(self, uid: UUID) -> dict[str, Any] | None:
        row = (
            await self.conn.execute(select(sync_batches).where(sync_batches.c.uid == uid))
        ).first()
        return dict(row._mapping) if row else None

    async def active_for(self, entity: str) -> dict[str, Any] | None:
        row = (
            await self.conn.execute(
                select(sync_batches).where(
                    sync_batches.c.entity_name == entity, sync_batches.c.status.in_(ACTIVE)
                )
            )
        ).first()
        return dict(row._mapping) if row else None

    async def history(
        self, filters: BatchFilter, *, page: int, page_size: int
    ) -> tuple[list[dict[str, Any]], int]:
        conditions = []
        if filters.entity:
            conditions.append(sync_batches.c.entity_name == filters.entity)
        if filters.status:
            conditions.append(sync_batches.c.status == filters.status)
        if filters.created_from is not None:
            conditions.append(sync_batches.c.created_at >= filters.created_from)
        if filters.created_before is not None:
            conditions.append(sync_batches.c.created_at < filters.created_before)
        where = and_(*conditions) if conditions else None
        query = select(sync_batches).order_by(sync_batches.c.created_at.desc())
        count = select(func.count()).select_from(sync_batches)
        if where is not None:
            query = query.where(where)
            count = count.where(where)
        total = int(await self.conn.scalar(count) or 0)
        rows = await self.conn.execute(query.limit(page_size).offset((page - 1) * page_size))
        return [dict(r._mapping) for r in rows], total

    async def request_stop(self, uid: UUID) -> dict[str, Any] | None:
        """Ask a batch to stop: a pending one is cancelled now, a running one at its next chunk."""
        now = datetime.now(UTC)
        await self.conn.execute(
            update(sync_batches)
            .where(sync_batches.c.uid == uid, sync_batches.c.status == "pending")
            .values(status="cancelled", finished_at=now, stop_requested=True)
        )
        await self.conn.execute(
            update(sync_batches)
            .where(sync_batches.c.uid == uid, sync_batches.c.status == "running")
            .values(stop_requested=True)
        )
        return await self.get(uid)

    async def claim_next(
        self, *, worker_id: str, lease_seconds: int, now: datetime
    ) -> dict[str, Any] | None:
        """Claim the oldest pending batch that may run at ``now`` (not paused until later),
        or a running one whose lease expired (a dead worker's: it resumes from its checkpoint).

        ``FOR UPDATE SKIP LOCKED`` lets any number of workers claim concurrently.
        """
        candidate = (
            select(sync_batches.c.uid)
            .where(
                or_(
                    and_(
                        sync_batches.c.status == "pending",
                        or_(sync_batches.c.not_before.is_(None), sync_batches.c.not_before <= now),
                    ),
                    and_(
                        sync_batches.c.status == "running",
                        sync_batches.c.lease_expires_at < _database_now(),
                    ),
                )
            )
            .order_by(sync_batches.c.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        uid = await self.conn.scalar(candidate)
        if uid is None:
            return None
        return await self._mark_running(
            uid, worker_id=worker_id, lease_seconds=lease_seconds, clear_not_before=True
        )

    async def claim(
        self, uid: UUID, *, worker_id: str, lease_seconds: int
    ) -> dict[str, Any] | None:
        """Claim one particular pending batch (``None`` if another worker got it first)."""
        locked = await self.conn.scalar(
            select(sync_batches.c.uid)
            .where(sync_batches.c.uid == uid, sync_batches.c.status == "pending")
            .with_for_update(skip_locked=True)
        )
        if locked is None:
            return None
        return await self._mark_running(
            uid, worker_id=worker_id, lease_seconds=lease_seconds, clear_not_before=False
        )

    async def _mark_running(
        self, uid: UUID, *, worker_id: str, lease_seconds: int, clear_not_before: bool
    ) -> dict[str, Any] | None:
        """The claim itself, on a batch row locked by the caller: running, leased to
        ``worker_id``; started now unless it had started before (a paused batch)."""
        values: dict[str, Any] = {
            "status": "running",
            "lease_owner": worker_id,
            "lease_expires_at": _lease_until(lease_seconds),
            "started_at": func.coalesce(sync_batches.c.started_at, datetime.now(UTC)),
        }
        if clear_not_before:
            values["not_before"] = None
        await self.conn.execute(
            update(sync_batches).where(sync_batches.c.uid == uid).values(**values)
        )
        return await self.get(uid)

    async def renew_lease(self, uid: UUID, *, worker_id: str, lease_seconds: int) -> bool:
        """Extend our lease; ``False`` when another worker has taken the batch over."""
        result = await self.conn.execute(
            update(sync_batches)
            .where(
                sync_batches.c.uid == uid,
                sync_batches.c.lease_owner == worker_id,
                sync_batches.c.status == "running",
            )
            .values(lease_expires_at=_lease_until(lease_seconds))
        )
        return result.rowcount == 1

    async def release_leases(self, *, worker_id: str) -> int:
        """Expire our leases now (clean shutdown) so another worker resumes at once."""
        result = await self.conn.execute(
            update(sync_batches)
            .where(sync_batches.c.lease_owner == worker_id, sync_batches.c.status == "running")
            .values(lease_expires_at=_database_now())
        )
        return int(result.rowcount)

    async def holds_lease(self, uid: UUID, *, worker_id: str) -> tuple[bool, bool]:
        """``(we still own the running batch, a stop was requested)``, locking the row."""
        row = (
            await self.conn.execute(
                select(
                    sync_batches.c.lease_owner, sync_batches.c.status, sync_batches.c.stop_requested
                )
                .where(sync_batches.c.uid == uid)
                .with_for_update()
            )
        ).first()
        if row is None:
            return False, False
        return row.lease_owner == worker_id and row.status == "running", bool(row.stop_requested)

    async def finish(
        self,
        uid: UUID,
        *,
        worker_id: str | None,
        status: str,
        error: str | None = None,
        warnings: list[str] | None = None,
    ) -> bool:
        """Close a batch (completed, failed, cancelled) if we still own it."""
        conditions = [sync_batches.c.uid == uid, sync_batches.c.status.in_(ACTIVE)]
        if worker_id is not None:
            conditions.append(sync_batches.c.lease_owner == worker_id)
        values: dict[str, Any] = {
            "status": status,
            "error": error,
            "finished_at": datetime.now(UTC),
            "lease_expires_at": None,
        }
        if warnings is not None:
            values["warnings"] = warnings
        result = await self.conn.execute(update(sync_batches).where(*conditions).values(**values))
        return result.rowcount == 1

    async def pause(self, uid: UUID, *, until: datetime) -> None:
        """Hand a running batch back as ``pending`` until ``until`` (its window or its next
        daily portion). It keeps its checkpoint, and still blocks a second batch of its entity."""
        await self.conn.execute(
            update(sync_batches)
            .where(sync_batches.c.uid == uid)
            .values(
                status="pending",
                not_before=until,
                stop_at=None,
                lease_owner=None,
                lease_expires_at=None,
            )
        )

    async def set_started(
        self, uid: UUID, *, cursor_start: Any, checkpoint: dict[str, Any]
    ) -> None:
        await self.conn.execute(
            update(sync_batches)
            .where(sync_batches.c.uid == uid)
            .values(cursor_start=cursor_start, checkpoint=checkpoint)
        )

    async def prune(self, *, older_than: datetime) -> int:
        """Delete finished batches older than ``older_than``; return how many."""
        result = await self.conn.execute(
            sync_batches.delete().where(
                sync_batches.c.status.in_(FINISHED), sync_batches.c.finished_at < older_than
            )
        )
        return int(result.rowcount)
