"""All of the stand-in's SQL: held records, the apply log and webhook receipts."""

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from bridge_core.db.repository import Repository
from bridge_core.ids import new_id
from schedulehub_standin.tables import apply_log, records, webhook_receipts


@dataclass(frozen=True)
class NewRecord:
    """A record to store: its key, hashes and refs, and its mapped fields (``data``)."""

    erp_key_hash: str
    erp_data_hash: str | None
    erp_rowversion: str | None
    erp_ref_str: str | None
    parent_refs: dict[str, str | None]
    data: dict[str, Any]


@dataclass(frozen=True)
class HeldRecord:
    uid: uuid.UUID
    erp_key_hash: str
    erp_data_hash: str | None
    deleted: bool


@dataclass(frozen=True)
class Applied:
    """One change applied, for the apply log."""

    erp_key_hash: str
    uid: uuid.UUID
    op: str
    erp_data_hash: str | None
    erp_rowversion: str | None


class RecordRepository(Repository):
    async def live_records(self, entity: str, keys: Collection[str]) -> list[dict[str, Any]]:
        """The live records held for ``keys``, as the API shows them."""
        rows = await self.conn.execute(
            select(records).where(
                records.c.entity == entity,
                records.c.erp_key_hash.in_(list(keys)),
                records.c.deleted_at.is_(None),
            )
        )
        return [
            {
                **row.data,
                "uid": str(row.uid),
                "erp_key_hash": row.erp_key_hash,
                "erp_data_hash": row.erp_data_hash,
                "erp_rowversion": row.erp_rowversion,
                "erp_ref_str": row.erp_ref_str,
                "parent_refs": row.parent_refs,
            }
            for row in rows
        ]

    async def live_keys(self, entity: str, keys: Collection[str]) -> set[str]:
        rows = await self.conn.execute(
            select(records.c.erp_key_hash).where(
                records.c.entity == entity,
                records.c.erp_key_hash.in_(list(keys)),
                records.c.deleted_at.is_(None),
            )
        )
        return set(rows.scalars())

    async def insert(
        self, entity: str, new: Sequence[NewRecord], *, now: datetime
    ) -> dict[str, uuid.UUID]:
        """Insert records whose key is not held live (a soft-deleted one is revived with a
        new uid); return ``{key: uid}`` of those stored. Keys must be distinct."""
        if not new:
            return {}
        statement = pg_insert(records)
        upsert = statement.on_conflict_do_update(
            index_elements=[records.c.entity, records.c.erp_key_hash],
            set_={
                name: statement.excluded[name]
                for name in (
                    "uid",
                    "erp_data_hash",
                    "erp_rowversion",
                    "erp_ref_str",
                    "parent_refs",
                    "data",
                    "created_at",
                    "updated_at",
                    "deleted_at",
                )
            },
            where=records.c.deleted_at.is_not(None),
        ).returning(records.c.erp_key_hash, records.c.uid)
        result = await self.conn.execute(
            upsert,
            [
                {
                    "entity": entity,
                    "erp_key_hash": record.erp_key_hash,
                    "uid": new_id(),
                    "erp_data_hash": record.erp_data_hash,
                    "erp_rowversion": record.erp_rowversion,
                    "erp_ref_str": record.erp_ref_str,
                    "parent_refs": record.parent_refs,
                    "data": record.data,
                    "created_at": now,
                    "updated_at": now,
                    "deleted_at": None,
                }
                for record in new
            ],
        )
        return {row.erp_key_hash: row.uid for row in result}

    async def lock_by_uids(self, entity: str, uids: Collection[uuid.UUID]) -> list[HeldRecord]:
        """The records (live or deleted) with these uids, locked until the transaction ends."""
        rows = await self.conn.execute(
            select(records.c.uid, records.c.erp_key_hash, records.c.erp_data_hash)
            .add_columns(records.c.deleted_at.is_not(None).label("deleted"))
            .where(records.c.entity == entity, records.c.uid.in_(list(uids)))
            .with_for_update()
        )
        return [
            HeldRecord(row.uid, row.erp_key_hash, row.erp_data_hash, row.deleted) for row in rows
        ]

    async def lock_by_keys(self, entity: str, keys: Collection[str]) -> list[HeldRecord]:
        """The records (live or deleted) with these keys, locked until the transaction ends."""
        rows = await self.conn.execute(
            select(records.c.uid, records.c.erp_key_hash, records.c.erp_data_hash)
            .add_columns(records.c.deleted_at.is_not(None).label("deleted"))
            .where(records.c.entity == entity, records.c.erp_key_hash.in_(list(keys)))
            .with_for_update()
        )
        return [
            HeldRecord(row.uid, row.erp_key_hash, row.erp_data_hash, row.deleted) for row in rows
        ]

    async def replace(
        self, entity: str, changes: Sequence[tuple[uuid.UUID, NewRecord]], *, now: datetime
    ) -> None:
        """Replace what live records hold (locked by the caller)."""
        if not changes:
            return
        await self.conn.execute(
            update(records)
            .where(records.c.entity == entity, records.c.uid == bindparam("b_uid"))
            .values(
                erp_data_hash=bindparam("b_data_hash"),
                erp_rowversion=bindparam("b_rowversion"),
                erp_ref_str=bindparam("b_ref_str"),
                parent_refs=bindparam("b_parent_refs", type_=records.c.parent_refs.type),
                data=bindparam("b_data", type_=records.c.data.type),
                updated_at=now,
            ),
            [
                {
                    "b_uid": uid,
                    "b_data_hash": record.erp_data_hash,
                    "b_rowversion": record.erp_rowversion,
                    "b_ref_str": record.erp_ref_str,
                    "b_parent_refs": record.parent_refs,
                    "b_data": record.data,
                }
                for uid, record in changes
            ],
        )

    async def soft_delete(self, entity: str, uids: Collection[uuid.UUID], *, now: datetime) -> None:
        if not uids:
            return
        await self.conn.execute(
            update(records)
            .where(records.c.entity == entity, records.c.uid.in_(list(uids)))
            .values(deleted_at=now, updated_at=now)
        )

    async def log(
        self, entity: str, applied: Sequence[Applied], *, via: str, now: datetime
    ) -> None:
        if not applied:
            return
        await self.conn.execute(
            insert(apply_log),
            [
                {
                    "entity": entity,
                    "erp_key_hash": change.erp_key_hash,
                    "uid": change.uid,
                    "op": change.op,
                    "via": via,
                    "erp_data_hash": change.erp_data_hash,
                    "erp_rowversion": change.erp_rowversion,
                    "at": now,
                }
                for change in applied
            ],
        )

    async def receive_webhook(
        self, webhook_id: str, *, entity: str, events: int, now: datetime
    ) -> bool:
        """Record a webhook as applied; False when its id was applied before."""
        result = await self.conn.execute(
            pg_insert(webhook_receipts)
            .values(webhook_id=webhook_id, entity=entity, events=events, received_at=now)
            .on_conflict_do_nothing()
            .returning(webhook_receipts.c.webhook_id)
        )
        return result.first() is not None

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

    async def all_records(self, entity: str, *, include_deleted: bool) -> list[dict[str, Any]]:
        """Every record of ``entity`` in key order, with its uid, hashes and deletion time."""
        query = select(records).where(records.c.entity == entity)
        if not include_deleted:
            query = query.where(records.c.deleted_at.is_(None))
        rows = await self.conn.execute(query.order_by(records.c.erp_key_hash))
        return [
            {
                **row.data,
                "uid": str(row.uid),
                "erp_key_hash": row.erp_key_hash,
                "erp_data_hash": row.erp_data_hash,
                "erp_rowversion": row.erp_rowversion,
                "erp_ref_str": row.erp_ref_str,
                "parent_refs": row.parent_refs,
                "deleted_at": row.deleted_at.isoformat() if row.deleted_at else None,
            }
            for row in rows
        ]

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
