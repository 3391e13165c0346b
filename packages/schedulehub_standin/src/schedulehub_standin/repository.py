"""All of the stand-in's SQL: held records, the apply log and webhook receipts."""

import uuid
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    DateTime,
    Text,
    any_,
    bindparam,
    cast,
    column,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.types import Uuid

from bridge_core.db.repository import Repository
from bridge_core.ids import new_id_texts
from schedulehub_standin import exact_json
from schedulehub_standin.tables import apply_log, records, webhook_receipts


def _value(value: str | datetime) -> Any:
    """A bound value as a selected column."""
    return literal(value, DateTime(timezone=True) if isinstance(value, datetime) else Text)


def _keys(keys: Collection[str]) -> Any:
    """Keys as one array parameter: one statement text whatever their number."""
    return literal(list(keys), ARRAY(Text))


def _keys_from_json(keys: Sequence[str]) -> Any:
    """Many keys as one JSON text parameter: asyncpg checks each item of a list parameter
    in Python (a microsecond a key), orjson writes thousands at once."""
    texts = func.jsonb_array_elements_text(cast(literal(orjson.dumps(keys).decode()), JSONB))
    return func.array(select(texts).scalar_subquery())


def _uids(uids: Collection[uuid.UUID]) -> Any:
    return literal(list(uids), ARRAY(Uuid))


# records a row of live_records carries
_CHUNK = 100

# the columns an insert takes from the records sent, as they travel in the JSON array
_STORED_COLUMNS = (
    column("erp_key_hash", Text),
    column("uid", Uuid),
    column("erp_data_hash", Text),
    column("erp_rowversion", Text),
    column("erp_ref_str", Text),
    column("parent_refs", JSONB),
    column("data", JSONB),
)
# the columns of an apply log entry that come from the change
_APPLIED_COLUMNS = (
    column("erp_key_hash", Text),
    column("uid", Uuid),
    column("op", Text),
    column("erp_data_hash", Text),
    column("erp_rowversion", Text),
)
_STORED = tuple(c.name for c in _STORED_COLUMNS)
_APPLIED = tuple(c.name for c in _APPLIED_COLUMNS)


def _incoming(columns: Sequence[Any]) -> Any:
    """Rows sent as one JSON array parameter ``rows`` (JSON text with every digit: the
    JSONB type would use json.dumps), as a table: one statement whatever their number."""
    return (
        func.jsonb_to_recordset(cast(bindparam("rows", type_=Text), JSONB))
        .table_valued(*columns)
        .render_derived(name="incoming", with_types=True)
    )


def _stored_row(record: "NewRecord", uid: uuid.UUID | str) -> dict[str, Any]:
    return {
        "erp_key_hash": record.erp_key_hash,
        "uid": str(uid),  # asyncpg's own UUID type is not orjson's
        "erp_data_hash": record.erp_data_hash,
        "erp_rowversion": record.erp_rowversion,
        "erp_ref_str": record.erp_ref_str,
        "parent_refs": record.parent_refs,
        "data": record.data,
    }


def api_record(*, deleted_at: bool = False) -> Any:
    """A held record as the API shows it, ``jsonb`` made by PostgreSQL: the mapped fields,
    uid and erp_* fields (every digit of a number kept)."""
    fields: list[Any] = [
        "uid",
        records.c.uid,
        "erp_key_hash",
        records.c.erp_key_hash,
        "erp_data_hash",
        records.c.erp_data_hash,
        "erp_rowversion",
        records.c.erp_rowversion,
        "erp_ref_str",
        records.c.erp_ref_str,
        "parent_refs",
        records.c.parent_refs,
    ]
    if deleted_at:
        fields += ["deleted_at", records.c.deleted_at]
    return records.c.data.op("||")(func.jsonb_build_object(*fields))


@dataclass(slots=True)
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
    async def live_records(self, entity: str, keys: Sequence[str]) -> orjson.Fragment:
        """The live records held for ``keys``, as the API shows them: one JSON array of
        text made by PostgreSQL (no Python per record).

        The records come in chunks of ``_CHUNK`` (UTF-8 bytes, joined here): one value of
        megabytes would cost the stand-in more than the records do (every large buffer
        is a fresh mapping of memory: page faults), one row each a Python row per record.
        """
        found = (
            select(
                cast(api_record(), Text).label("record"),
                (func.row_number().over() // _CHUNK).label("chunk"),
            )
            .where(
                records.c.entity == entity,
                records.c.erp_key_hash == any_(_keys_from_json(keys)),
                records.c.deleted_at.is_(None),
            )
            .subquery()
        )
        chunks = await self.conn.scalars(
            select(func.convert_to(func.string_agg(found.c.record, ","), "UTF8")).group_by(
                found.c.chunk
            )
        )
        return orjson.Fragment(b"[" + b",".join(chunks) + b"]")

    async def live_keys(self, entity: str, keys: Collection[str]) -> set[str]:
        rows = await self.conn.execute(
            select(records.c.erp_key_hash).where(
                records.c.entity == entity,
                records.c.erp_key_hash == any_(_keys(keys)),
                records.c.deleted_at.is_(None),
            )
        )
        return set(rows.scalars())

    async def insert(
        self, entity: str, new: Sequence[NewRecord], *, via: str, now: datetime
    ) -> dict[str, uuid.UUID]:
        """Insert records whose key is not held live (a soft-deleted one is revived with a
        new uid) and log them; return ``{key: uid}`` of those stored. Keys must be distinct.

        One statement whatever the count: the records travel as one JSON array, and the
        apply log is written from the insert's ``RETURNING``.
        """
        if not new:
            return {}
        incoming = _incoming(_STORED_COLUMNS)
        statement = pg_insert(records).from_select(
            [*_STORED, "entity", "created_at", "updated_at"],
            select(
                *(incoming.c[name] for name in _STORED), _value(entity), _value(now), _value(now)
            ),
        )
        stored = (
            statement.on_conflict_do_update(
                index_elements=[records.c.entity, records.c.erp_key_hash],
                set_={
                    **{name: statement.excluded[name] for name in _STORED},
                    "created_at": statement.excluded.created_at,
                    "updated_at": statement.excluded.updated_at,
                    "deleted_at": None,
                },
                where=records.c.deleted_at.is_not(None),
            )
            .returning(
                records.c.erp_key_hash,
                records.c.uid,
                records.c.erp_data_hash,
                records.c.erp_rowversion,
            )
            .cte("stored")
        )
        logged = (
            insert(apply_log)
            .from_select(
                [
                    "entity",
                    "erp_key_hash",
                    "uid",
                    "op",
                    "via",
                    "erp_data_hash",
                    "erp_rowversion",
                    "at",
                ],
                select(
                    _value(entity),
                    stored.c.erp_key_hash,
                    stored.c.uid,
                    _value("insert"),
                    _value(via),
                    stored.c.erp_data_hash,
                    stored.c.erp_rowversion,
                    _value(now),
                ),
            )
            .cte("logged")
        )
        rows = [
            _stored_row(record, uid)
            # in key order, so that racing calls take their row locks in one order (no deadlock)
            for record, uid in zip(
                sorted(new, key=lambda r: r.erp_key_hash), new_id_texts(len(new)), strict=True
            )
        ]
        result = await self.conn.execute(
            select(stored.c.erp_key_hash, stored.c.uid).add_cte(logged),
            {"rows": exact_json.dumps(rows).decode()},
        )
        return {row.erp_key_hash: row.uid for row in result}

    async def lock_by_uids(self, entity: str, uids: Collection[uuid.UUID]) -> list[HeldRecord]:
        """The records (live or deleted) with these uids, locked until the transaction ends."""
        return await self._lock(entity, records.c.uid, _uids(uids))

    async def lock_by_keys(self, entity: str, keys: Collection[str]) -> list[HeldRecord]:
        """The records (live or deleted) with these keys, locked until the transaction ends."""
        return await self._lock(entity, records.c.erp_key_hash, _keys(keys))

    async def _lock(self, entity: str, by: ColumnElement[Any], values: Any) -> list[HeldRecord]:
        """The records whose column ``by`` is one of ``values``, locked in ``by`` order (racing
        calls take their row locks in one order: no deadlock)."""
        rows = await self.conn.execute(
            select(records.c.uid, records.c.erp_key_hash, records.c.erp_data_hash)
            .add_columns(records.c.deleted_at.is_not(None).label("deleted"))
            .where(records.c.entity == entity, by == any_(values))
            .order_by(by)
            .with_for_update()
        )
        return [
            HeldRecord(row.uid, row.erp_key_hash, row.erp_data_hash, row.deleted) for row in rows
        ]

    async def replace(
        self, entity: str, changes: Sequence[tuple[uuid.UUID, NewRecord]], *, now: datetime
    ) -> None:
        """Replace what live records hold (locked by the caller), in one statement."""
        if not changes:
            return
        incoming = _incoming(_STORED_COLUMNS)
        await self.conn.execute(
            update(records)
            .where(records.c.entity == entity, records.c.uid == incoming.c.uid)
            .values(
                erp_data_hash=incoming.c.erp_data_hash,
                erp_rowversion=incoming.c.erp_rowversion,
                erp_ref_str=incoming.c.erp_ref_str,
                parent_refs=incoming.c.parent_refs,
                data=incoming.c.data,
                updated_at=now,
            ),
            {"rows": exact_json.dumps([_stored_row(r, uid) for uid, r in changes]).decode()},
        )

    async def soft_delete(self, entity: str, uids: Collection[uuid.UUID], *, now: datetime) -> None:
        if not uids:
            return
        await self.conn.execute(
            update(records)
            .where(records.c.entity == entity, records.c.uid == any_(_uids(uids)))
            .values(deleted_at=now, updated_at=now)
        )

    async def log(
        self, entity: str, applied: Sequence[Applied], *, via: str, now: datetime
    ) -> None:
        """Add changes to the apply log, in their order, in one statement."""
        if not applied:
            return
        incoming = _incoming(_APPLIED_COLUMNS)
        await self.conn.execute(
            insert(apply_log).from_select(
                ["entity", *_APPLIED, "via", "at"],
                select(
                    _value(entity),
                    *(incoming.c[name] for name in _APPLIED),
                    _value(via),
                    _value(now),
                ),
            ),
            {"rows": orjson.dumps([{**asdict(c), "uid": str(c.uid)} for c in applied]).decode()},
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
