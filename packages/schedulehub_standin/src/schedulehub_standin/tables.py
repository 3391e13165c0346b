"""The stand-in's tables, and how they come to exist.

No migrations: a stand-in's schema is thrown away with its data, so the missing tables
are created at start (``metadata.create_all``, which looks before it creates) under the
bridge's DDL advisory lock (``bridge_core.db.ddl``), so that several stand-ins starting
on one database do not race. A changed table is not altered: drop the database.

- ``records``: what ScheduleHub holds, one row per ``(entity, erp_key_hash)``; a soft
  delete sets ``deleted_at``; ``data`` is the record as sent (mapped fields, parent refs).
- ``apply_log``: every change applied, in commit order per key (``seq``), for tests
  that assert per-key order and that nothing was inserted twice.
- ``webhook_receipts``: the ``webhook-id`` of every webhook applied (de-duplication).
"""

from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, Integer, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import Uuid

from bridge_core.db.ddl import lock_ddl
from bridge_core.db.naming import new_metadata

metadata = new_metadata()

records = Table(
    "records",
    metadata,
    Column("entity", String(200), primary_key=True),
    Column("erp_key_hash", String(200), primary_key=True),
    Column("uid", Uuid, nullable=False, unique=True),
    Column("erp_data_hash", String(200), nullable=True),
    Column("erp_rowversion", Text, nullable=True),
    Column("erp_ref_str", Text, nullable=True),
    Column("parent_refs", JSONB, nullable=False),
    Column("data", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
)

apply_log = Table(
    "apply_log",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("entity", String(200), nullable=False),
    Column("erp_key_hash", String(200), nullable=False),
    Column("uid", Uuid, nullable=False),
    # insert, update or delete
    Column("op", String(10), nullable=False),
    # batch (the batch API) or webhook
    Column("via", String(10), nullable=False),
    Column("erp_data_hash", String(200), nullable=True),
    Column("erp_rowversion", Text, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_apply_log_entity_erp_key_hash", "entity", "erp_key_hash", "seq"),
)

webhook_receipts = Table(
    "webhook_receipts",
    metadata,
    Column("webhook_id", String(200), primary_key=True),
    Column("entity", String(200), nullable=False),
    Column("events", Integer, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)


async def create_tables(engine: AsyncEngine) -> None:
    """Create the missing tables (and their indexes), one creator at a time."""
    async with engine.begin() as conn:
        await lock_ddl(conn)
        await conn.run_sync(metadata.create_all)
