"""All SQL of the connections feature: the ``connections`` table (and who uses a row)."""

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from apismith.drivers.base import ConnectionOptions, Dialect
from apismith.tables import apis, connections
from bridge_core.db.repository import Repository


@dataclass(frozen=True)
class ConnectionRecord:
    """A stored connection, as other features receive it (the URL still encrypted)."""

    uid: uuid.UUID
    name: str
    dialect: Dialect
    url_encrypted: bytes
    url_masked: str
    options: ConnectionOptions
    created_at: datetime
    updated_at: datetime


def _record(row: Any) -> ConnectionRecord:
    return ConnectionRecord(
        uid=row.uid,
        name=row.name,
        dialect=Dialect(row.dialect),
        url_encrypted=row.url_encrypted,
        url_masked=row.url_masked,
        options=ConnectionOptions(**row.options),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _values(record: ConnectionRecord) -> dict[str, Any]:
    values = asdict(record)
    values["dialect"] = str(record.dialect)
    values["options"] = asdict(record.options)
    return values


class ConnectionRepository(Repository):
    """Stored connections."""

    async def insert(self, record: ConnectionRecord) -> None:
        await self.conn.execute(insert(connections).values(**_values(record)))

    async def get(self, uid: uuid.UUID) -> ConnectionRecord | None:
        row = (await self.conn.execute(select(connections).where(connections.c.uid == uid))).first()
        return _record(row) if row is not None else None

    async def list_all(self) -> list[ConnectionRecord]:
        rows = await self.conn.execute(select(connections).order_by(connections.c.name))
        return [_record(row) for row in rows]

    async def update(self, record: ConnectionRecord) -> None:
        values = _values(record)
        del values["uid"], values["created_at"]
        await self.conn.execute(
            update(connections).where(connections.c.uid == record.uid).values(**values)
        )

    async def delete(self, uid: uuid.UUID) -> None:
        await self.conn.execute(delete(connections).where(connections.c.uid == uid))

    async def api_slugs_using(self, uid: uuid.UUID) -> list[str]:
        """Slugs of the APIs that query this connection."""
        rows = await self.conn.scalars(
            select(apis.c.slug).where(apis.c.connection_uid == uid).order_by(apis.c.slug)
        )
        return list(rows)
