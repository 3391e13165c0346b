"""What operators do with the delivery ledger: list deliveries with their attempts, replay
them, summarize them for metrics, and prune delivered ones (SyncFlow's own database).
The worker's side of the ledger is :mod:`syncflow.delivery.ledger`."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, func, select, text, update

from bridge_core.db.repository import Repository
from syncflow.delivery.streams import DELIVERS_ENTITY
from syncflow.tables import deliveries, delivery_attempts, destinations


class LedgerAdmin(Repository):
    """Deliveries and attempts as operators see and handle them."""

    # --- listing and replay -------------------------------------------------------------

    def _conditions(
        self,
        *,
        destination_uid: UUID | None,
        entity: str | None,
        state: str | None,
        uids: list[UUID] | None = None,
        batch_uid: UUID | None = None,
    ) -> list[Any]:
        conditions = []
        if destination_uid is not None:
            conditions.append(deliveries.c.destination_uid == destination_uid)
        if entity is not None:
            conditions.append(deliveries.c.entity_name == entity)
        if state is not None:
            conditions.append(deliveries.c.state == state)
        if uids is not None:
            conditions.append(deliveries.c.uid.in_(uids))
        if batch_uid is not None:
            conditions.append(deliveries.c.batch_uid == batch_uid)
        return conditions

    async def page(
        self,
        *,
        destination_uid: UUID | None,
        entity: str | None,
        state: str | None,
        offset: int,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of deliveries, newest event first, with the destination's name."""
        where = and_(
            True, *self._conditions(destination_uid=destination_uid, entity=entity, state=state)
        )
        rows = await self.conn.execute(
            select(deliveries, destinations.c.name.label("destination_name"))
            .join(destinations, destinations.c.uid == deliveries.c.destination_uid)
            .where(where)
            .order_by(deliveries.c.event_id.desc(), deliveries.c.destination_uid)
            .offset(offset)
            .limit(limit)
        )
        total = await self.conn.scalar(select(func.count()).select_from(deliveries).where(where))
        return [dict(row) for row in rows.mappings()], int(total or 0)

    async def attempts_for(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The attempts that concern any of ``items`` (deliveries), oldest first."""
        if not items:
            return []
        ids = sorted({item["event_id"] for item in items})
        destination_uids = sorted({item["destination_uid"] for item in items})
        rows = await self.conn.execute(
            select(delivery_attempts)
            .where(
                delivery_attempts.c.event_ids.overlap(ids),
                delivery_attempts.c.destination_uid.in_(destination_uids),
            )
            .order_by(delivery_attempts.c.attempted_at)
        )
        return [dict(row) for row in rows.mappings()]

    async def replay(
        self,
        *,
        destination_uid: UUID,
        entity: str | None,
        state: str | None,
        uids: list[UUID] | None,
        now: datetime,
        batch_uid: UUID | None = None,
    ) -> int:
        """Send matching events again, from scratch: pending and due now, their attempt
        count and waiting retry cleared, same ids. Events in flight are left alone (their
        outcome is not known yet); a delivered event sent again is applied by state, so
        nothing is inserted twice. An event whose key has a newer delivered event is not
        sent again: that would take the key back to an older state."""
        conditions = self._conditions(
            destination_uid=destination_uid,
            entity=entity,
            state=state,
            uids=uids,
            batch_uid=batch_uid,
        )
        newer = deliveries.alias("newer")
        superseded = (
            select(newer.c.uid)
            .where(
                newer.c.destination_uid == deliveries.c.destination_uid,
                newer.c.entity_name == deliveries.c.entity_name,
                newer.c.key_hash == deliveries.c.key_hash,
                newer.c.event_id > deliveries.c.event_id,
                newer.c.state == "delivered",
            )
            .exists()
        )
        result = await self.conn.execute(
            update(deliveries)
            .where(*conditions, deliveries.c.state != "delivering", ~superseded)
            .values(
                state="pending",
                attempts=0,
                first_attempt_at=None,
                next_attempt_at=now,
                delivered_at=None,
                updated_at=now,
            )
        )
        return int(result.rowcount)

    # --- metrics and retention ----------------------------------------------------------

    async def summary(self) -> list[dict[str, Any]]:
        """Per destination and entity: events by state and the oldest undelivered event's
        creation (pending or in flight)."""
        rows = await self.conn.execute(
            select(
                destinations.c.name.label("destination"),
                deliveries.c.entity_name.label("entity"),
                func.count().filter(deliveries.c.state == "pending").label("pending"),
                func.count().filter(deliveries.c.state == "delivering").label("delivering"),
                func.count().filter(deliveries.c.state == "dead").label("dead"),
                func.min(deliveries.c.event_created_at)
                .filter(deliveries.c.state.in_(("pending", "delivering")))
                .label("oldest_pending_at"),
            )
            .join(destinations, destinations.c.uid == deliveries.c.destination_uid)
            .where(deliveries.c.state != "delivered")
            .group_by(destinations.c.name, deliveries.c.entity_name)
        )
        return [dict(row) for row in rows.mappings()]

    async def prune_delivered(self, *, older_than: datetime) -> int:
        """Delete deliveries delivered before ``older_than``, and attempts older than that
        which concern no undelivered event any more; how many deliveries went."""
        result = await self.conn.execute(
            deliveries.delete().where(
                deliveries.c.state == "delivered", deliveries.c.delivered_at < older_than
            )
        )
        await self.conn.execute(
            text(
                "DELETE FROM delivery_attempts a WHERE a.attempted_at < :cutoff "
                "AND NOT EXISTS (SELECT 1 FROM deliveries d "
                "WHERE d.destination_uid = a.destination_uid AND d.event_id = ANY(a.event_ids))"
            ),
            {"cutoff": older_than},
        )
        return int(result.rowcount)

    async def outbox_safe_ids(self) -> dict[str, int | None]:
        """Per entity: the highest outbox id that every stream of it has delivered (no
        undelivered delivery at or below it, read by the cursor); ``None`` for an entity
        no stream reads (its events have no one waiting for them). A stream whose
        destination no longer names the entity holds nothing back."""
        rows = await self.conn.execute(
            text(
                "SELECT e.name, min(LEAST(delivery_streams.cursor, COALESCE(("
                " SELECT min(d.event_id) - 1 FROM deliveries d"
                " WHERE d.destination_uid = delivery_streams.destination_uid"
                " AND d.entity_name = delivery_streams.entity_name AND d.state <> 'delivered'"
                " ), delivery_streams.cursor))) AS safe "
                "FROM entities e LEFT JOIN (delivery_streams JOIN destinations ON "
                f"destinations.uid = delivery_streams.destination_uid AND {DELIVERS_ENTITY}) "
                "ON delivery_streams.entity_name = e.name GROUP BY e.name"
            )
        )
        return {row.name: (None if row.safe is None else int(row.safe)) for row in rows}
