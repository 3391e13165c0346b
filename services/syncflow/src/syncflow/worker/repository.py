"""SQL of the worker's periodic jobs: which entities have retries due, and pruning."""

from datetime import datetime

from sqlalchemy import select

from bridge_core.db.repository import Repository
from syncflow.tables import entities, failed_records, pending_children


class MaintenanceRepository(Repository):
    async def entities_with_due_failures(self, *, now: datetime) -> list[str]:
        """Entities with open failed records whose automatic retry is due."""
        rows = await self.conn.execute(
            select(failed_records.c.entity_name)
            .distinct()
            .join(entities, entities.c.name == failed_records.c.entity_name)
            .where(failed_records.c.resolved_at.is_(None), failed_records.c.next_retry_at <= now)
            .order_by(failed_records.c.entity_name)
        )
        return list(rows.scalars())

    async def entities_with_due_children(self, *, now: datetime) -> list[str]:
        """Entities with parked children whose next retry is due."""
        rows = await self.conn.execute(
            select(pending_children.c.entity_name)
            .distinct()
            .join(entities, entities.c.name == pending_children.c.entity_name)
            .where(pending_children.c.next_retry_at <= now)
            .order_by(pending_children.c.entity_name)
        )
        return list(rows.scalars())

    async def prune_resolved_failures(self, *, older_than: datetime) -> int:
        """Delete failed records resolved before ``older_than``; return how many."""
        result = await self.conn.execute(
            failed_records.delete().where(failed_records.c.resolved_at < older_than)
        )
        return int(result.rowcount)
