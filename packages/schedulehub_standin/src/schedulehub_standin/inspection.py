"""The control API's reads of the stand-in's tables (counts, every record, the apply
log) and its reset: for tests' assertions, never on the batch API's path."""

from typing import Any

import orjson
from sqlalchemy import cast, func, select, text
from sqlalchemy.types import Text

from bridge_core.db.repository import Repository
from schedulehub_standin.repository import api_record
from schedulehub_standin.tables import apply_log, records, webhook_receipts


class InspectionRepository(Repository):
    async def record_counts(self) -> dict[str, dict[str, int]]:
        """Per entity: live and deleted records."""
        deleted = records.c.deleted_at.is_not(None)
        rows = await self.conn.execute(
            select(
                records.c.entity,
                func.count().filter(~deleted).label("live"),
                func.count().filter(deleted).label("deleted"),
            ).group_by(records.c.entity)
        )
        return {row.entity: {"live": row.live, "deleted": row.deleted} for row in rows}

    async def applied_counts(self) -> dict[str, dict[str, int]]:
        """Per entity: changes applied, by operation."""
        rows = await self.conn.execute(
            select(apply_log.c.entity, apply_log.c.op, func.count().label("n")).group_by(
                apply_log.c.entity, apply_log.c.op
            )
        )
        counts: dict[str, dict[str, int]] = {}
        for row in rows:
            counts.setdefault(row.entity, {})[row.op] = row.n
        return counts

    async def webhook_count(self) -> int:
        return int(await self.conn.scalar(select(func.count()).select_from(webhook_receipts)) or 0)

    async def all_records(self, entity: str, *, include_deleted: bool) -> list[orjson.Fragment]:
        """Every record of ``entity`` in key order (JSON text), with ``deleted_at``."""
        query = select(cast(api_record(deleted_at=True), Text)).where(records.c.entity == entity)
        if not include_deleted:
            query = query.where(records.c.deleted_at.is_(None))
        rows = await self.conn.execute(query.order_by(records.c.erp_key_hash))
        return [orjson.Fragment(text) for text in rows.scalars()]

    async def log_entries(
        self, *, entity: str | None, key: str | None, after: int, limit: int
    ) -> list[dict[str, Any]]:
        query = select(apply_log).where(apply_log.c.seq > after)
        if entity is not None:
            query = query.where(apply_log.c.entity == entity)
        if key is not None:
            query = query.where(apply_log.c.erp_key_hash == key)
        rows = await self.conn.execute(query.order_by(apply_log.c.seq).limit(limit))
        return [{**row._asdict(), "uid": str(row.uid), "at": row.at.isoformat()} for row in rows]

    async def clear(self) -> None:
        """Forget every record, log entry and webhook receipt."""
        await self.conn.execute(text("TRUNCATE records, apply_log, webhook_receipts"))
