"""All SQL on delivery streams: one destination's delivery of one entity, its lease (any
worker may deliver it, one at a time, timed by the database clock as batch leases are)
and how far it has read the outbox (``cursor``)."""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, RowMapping, func, or_, select, text, update

from bridge_core.db.repository import Repository
from syncflow.tables import delivery_streams, destinations, sync_batches

# a destination delivers an entity when it names it, or names none (every entity)
DELIVERS_ENTITY = (
    "(jsonb_array_length(destinations.entities) = 0 "
    "OR destinations.entities ? delivery_streams.entity_name)"
)


def _database_now() -> Any:
    return func.clock_timestamp(type_=DateTime(timezone=True))


def _syncing() -> Any:
    """A sync batch of the stream's entity is running and its worker alive (lease held):
    its events wait until it ends, so that the sync has the cores to itself (on the
    2-core bench machine the delivered entity's full sync took 2.6-4.7x a plain one while
    delivering, 1.3-1.9x waiting; bench/RESULTS.md). A batch whose worker died holds
    nothing back."""
    return (
        select(sync_batches.c.uid)
        .where(
            sync_batches.c.entity_name == delivery_streams.c.entity_name,
            sync_batches.c.status == "running",
            sync_batches.c.lease_expires_at > _database_now(),
        )
        .exists()
    )


class StreamRepository(Repository):
    """Delivery streams and their leases, in SyncFlow's own database."""

    async def ensure_streams(self, *, now: datetime) -> int:
        """A stream for every (destination, entity it delivers) that has none; how many new."""
        result = await self.conn.execute(
            text(
                "INSERT INTO delivery_streams (destination_uid, entity_name, cursor, "
                "next_check_at, updated_at) "
                "SELECT d.uid, e.name, 0, :now, :now FROM destinations d CROSS JOIN entities e "
                "WHERE (jsonb_array_length(d.entities) = 0 OR d.entities ? e.name) "
                # streams that exist are left out before the insert: an insert that meets
                # one waits for whichever transaction holds its lease row (0.3-0.6 s while
                # batches are recorded), and it ran once a second in the claim transaction
                "AND NOT EXISTS (SELECT 1 FROM delivery_streams s "
                "WHERE s.destination_uid = d.uid AND s.entity_name = e.name) "
                # one order for every worker: concurrent inserts never wait on each other
                # in a cycle
                "ORDER BY d.uid, e.name ON CONFLICT DO NOTHING"
            ),
            {"now": now},
        )
        return int(result.rowcount)

    async def claim_stream(
        self, *, worker_id: str, lease_seconds: int, now: datetime, during_sync: bool
    ) -> dict[str, Any] | None:
        """Lease the stream that is due longest, of an enabled, unpaused destination that
        still delivers its entity, whose lease is free or expired, and (unless
        ``during_sync``) whose entity no live sync batch is writing; with its
        destination's columns under ``destination``."""
        conditions: list[Any] = [
            destinations.c.enabled,
            destinations.c.paused_at.is_(None),
            text(DELIVERS_ENTITY),
            delivery_streams.c.next_check_at <= now,
            or_(
                delivery_streams.c.lease_owner.is_(None),
                delivery_streams.c.lease_expires_at < _database_now(),
            ),
        ]
        if not during_sync:
            conditions.append(~_syncing())
        candidate = (
            select(delivery_streams.c.destination_uid, delivery_streams.c.entity_name)
            .join(destinations, destinations.c.uid == delivery_streams.c.destination_uid)
            .where(*conditions)
            .order_by(delivery_streams.c.next_check_at)
            .limit(1)
            .with_for_update(of=delivery_streams, skip_locked=True)
        )
        picked = (await self.conn.execute(candidate)).first()
        if picked is None:
            return None
        await self.conn.execute(
            update(delivery_streams)
            .where(
                delivery_streams.c.destination_uid == picked.destination_uid,
                delivery_streams.c.entity_name == picked.entity_name,
            )
            .values(
                lease_owner=worker_id,
                lease_expires_at=_database_now() + timedelta(seconds=lease_seconds),
            )
        )
        stream = await self.stream(picked.destination_uid, picked.entity_name)
        destination = await self.destination(picked.destination_uid)
        assert stream is not None
        assert destination is not None
        return {**stream, "destination": destination}

    async def destination(self, uid: UUID) -> RowMapping | None:
        """The destination's columns as they are now."""
        statement = select(destinations).where(destinations.c.uid == uid)
        return (await self.conn.execute(statement)).mappings().first()

    async def stream(self, destination_uid: UUID, entity: str) -> dict[str, Any] | None:
        row = (
            (
                await self.conn.execute(
                    select(delivery_streams).where(
                        delivery_streams.c.destination_uid == destination_uid,
                        delivery_streams.c.entity_name == entity,
                    )
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    async def renew_lease(
        self, destination_uid: UUID, entity: str, *, worker_id: str, lease_seconds: int
    ) -> bool:
        """Extend the lease; ``False`` when another worker owns the stream now."""
        result = await self.conn.execute(
            update(delivery_streams)
            .where(
                delivery_streams.c.destination_uid == destination_uid,
                delivery_streams.c.entity_name == entity,
                delivery_streams.c.lease_owner == worker_id,
            )
            .values(lease_expires_at=_database_now() + timedelta(seconds=lease_seconds))
        )
        return bool(result.rowcount)

    async def release(
        self, destination_uid: UUID, entity: str, *, worker_id: str, next_check_at: datetime
    ) -> None:
        """Hand the stream back, to be looked at again at ``next_check_at``."""
        await self.conn.execute(
            update(delivery_streams)
            .where(
                delivery_streams.c.destination_uid == destination_uid,
                delivery_streams.c.entity_name == entity,
                delivery_streams.c.lease_owner == worker_id,
            )
            .values(
                lease_owner=None,
                lease_expires_at=None,
                next_check_at=next_check_at,
                updated_at=func.now(),
            )
        )

    async def release_all(self, *, worker_id: str) -> int:
        """Hand back every stream this worker holds (at shutdown)."""
        result = await self.conn.execute(
            update(delivery_streams)
            .where(delivery_streams.c.lease_owner == worker_id)
            .values(lease_owner=None, lease_expires_at=None)
        )
        return int(result.rowcount)

    async def wake_destination(self, destination_uid: UUID, *, now: datetime) -> None:
        """Have the destination's streams looked at now (after a replay or a resume)."""
        await self.conn.execute(
            update(delivery_streams)
            .where(delivery_streams.c.destination_uid == destination_uid)
            .values(next_check_at=now)
        )

    async def cursors(self, destination_uid: UUID, names: list[str]) -> dict[str, int]:
        """How far the destination's streams of ``names`` have read the outbox."""
        rows = await self.conn.execute(
            select(delivery_streams.c.entity_name, delivery_streams.c.cursor).where(
                delivery_streams.c.destination_uid == destination_uid,
                delivery_streams.c.entity_name.in_(names),
            )
        )
        return {row.entity_name: int(row.cursor) for row in rows}

    async def positions(self) -> list[dict[str, Any]]:
        """Every stream of a destination that still delivers its entity: the destination's
        name, the entity and how far the stream has read the outbox (``cursor``)."""
        rows = await self.conn.execute(
            select(
                destinations.c.name.label("destination"),
                delivery_streams.c.entity_name.label("entity"),
                delivery_streams.c.cursor,
            )
            .join(destinations, destinations.c.uid == delivery_streams.c.destination_uid)
            .where(text(DELIVERS_ENTITY))
        )
        return [dict(row) for row in rows.mappings()]
