"""Parked children: rows whose parent is not loaded yet, kept with their raw row. When
the parent arrives they go through the pipeline again, with the entity's mappings of
that moment. Written in the chunk's transaction, as the rest of :mod:`.track`.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, any_, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert

from bridge_core.db.repository import Repository
from bridge_core.ids import new_id
from syncflow.domain import Record
from syncflow.tables import pending_children


def is_any_of(column: ColumnElement[str], key_hashes: Sequence[str]) -> ColumnElement[bool]:
    """``column = ANY($n)``: a chunk's thousands of key hashes travel as one array
    parameter, instead of an ``IN`` list that SQLAlchemy compiles one bind at a time."""
    array = bindparam(None, list(key_hashes), type_=ARRAY(column.type))
    return column == any_(array)


def encode_value(value: Any) -> Any:
    """A mapped value as JSON (decimals and datetimes as ISO / exact strings)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def encode_raw(raw: dict[str, Any]) -> dict[str, Any]:
    return {key: encode_value(value) for key, value in raw.items()}


class ParkedRepository(Repository):
    """Children waiting for their parents, in our own database."""

    async def park_children(
        self,
        *,
        entity: str,
        batch_uid: UUID,
        parked: Sequence[tuple[Record, str, str, list[Any]]],
        next_retry_at: datetime,
    ) -> None:
        """Park children whose parent is missing.

        Each item is ``(record, parent_entity, parent_key_hash, parent_key)``.

        A child parked again (re-read before its parent arrived) replaces its earlier row.
        """
        if not parked:
            return
        now = datetime.now(UTC)
        rows = [
            {
                "uid": new_id(),
                "entity_name": entity,
                "batch_uid": batch_uid,
                "key_hash": record.key_hash,
                "parent_entity": parent_entity,
                "parent_key_hash": parent_key_hash,
                "parent_key": [encode_value(v) for v in parent_key],
                "row_data": {"raw": encode_raw(record.raw)},
                "attempts": 0,
                "next_retry_at": next_retry_at,
                "last_error": f"parent {parent_entity} {parent_key} not loaded yet",
                "created_at": now,
            }
            for record, parent_entity, parent_key_hash, parent_key in parked
        ]
        statement = insert(pending_children)
        await self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=[pending_children.c.entity_name, pending_children.c.key_hash],
                set_={
                    "batch_uid": statement.excluded.batch_uid,
                    "parent_entity": statement.excluded.parent_entity,
                    "parent_key_hash": statement.excluded.parent_key_hash,
                    "parent_key": statement.excluded.parent_key,
                    "row_data": statement.excluded.row_data,
                    "last_error": statement.excluded.last_error,
                },
            ),
            rows,
        )

    async def children_waiting_for(
        self, *, entity: str, parent_entity: str, parent_key_hashes: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Parked ``entity`` rows whose parent is among ``parent_key_hashes``."""
        if not parent_key_hashes:
            return []
        result = await self.conn.execute(
            select(pending_children)
            .where(
                pending_children.c.entity_name == entity,
                pending_children.c.parent_entity == parent_entity,
                is_any_of(pending_children.c.parent_key_hash, parent_key_hashes),
            )
            # waits for a resolve batch that holds them; rows it settled are skipped then
            .with_for_update()
        )
        return [dict(row._mapping) for row in result]

    async def due_parked(
        self, *, entity: str, due_at: datetime, limit: int
    ) -> list[dict[str, Any]]:
        """Parked ``entity`` rows whose next retry is due at ``due_at``, oldest first."""
        result = await self.conn.execute(
            select(pending_children)
            .where(
                pending_children.c.entity_name == entity, pending_children.c.next_retry_at <= due_at
            )
            .order_by(pending_children.c.next_retry_at, pending_children.c.uid)
            .limit(limit)
        )
        return [dict(row._mapping) for row in result]

    async def lock_parked(self, uids: Sequence[UUID]) -> list[UUID]:
        """Lock what is left of these parked rows; rows another transaction holds are skipped."""
        if not uids:
            return []
        result = await self.conn.execute(
            select(pending_children.c.uid)
            .where(pending_children.c.uid.in_(list(uids)))
            .with_for_update(skip_locked=True)
        )
        return list(result.scalars())

    async def postpone_parked(
        self, *, entity: str, retries: Mapping[str, tuple[int, datetime]]
    ) -> None:
        """Count another attempt on parked rows (key hash -> (attempts, next retry))."""
        if not retries:
            return
        statement = (
            update(pending_children)
            .where(
                pending_children.c.entity_name == entity,
                pending_children.c.key_hash == bindparam("key"),
            )
            .values(attempts=bindparam("tries"), next_retry_at=bindparam("retry_at"))
        )
        await self.conn.execute(
            statement,
            [
                {"key": key, "tries": attempts, "retry_at": retry_at}
                for key, (attempts, retry_at) in retries.items()
            ],
        )

    async def forget_parked(self, uids: Sequence[UUID]) -> None:
        if uids:
            await self.conn.execute(
                delete(pending_children).where(pending_children.c.uid.in_(list(uids)))
            )

    async def unpark_children(self, *, entity: str, key_hashes: Sequence[str]) -> None:
        """Drop parked rows of ``entity`` that have now been loaded by their own batch."""
        if key_hashes:
            await self.conn.execute(
                delete(pending_children).where(
                    pending_children.c.entity_name == entity,
                    is_any_of(pending_children.c.key_hash, key_hashes),
                )
            )
