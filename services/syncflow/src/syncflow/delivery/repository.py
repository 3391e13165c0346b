"""The transactional outbox: one event per row a chunk inserts, updates or deletes.

The outbox lives in the TARGET database (schema ``syncflow_delivery``), beside the target
tables, because an event must commit in the same transaction as its row and SyncFlow's
own database may be another server (``SYNCFLOW_TARGET_DATABASE_URL``). Events are written
set-based, one ``INSERT ... SELECT`` per chunk that reads the rows as they were just
stored (their ``_bridge_uid``, hashes, rowversion and mapped values), so an event can
never disagree with its row. A dry run writes no rows and so no events.

Event ids come from an identity column. A writer takes a per-entity transaction lock
before it adds events (:func:`_lock_entity`), so within an entity ids are handed out in
commit order: a reader that has seen id N never later finds a committed event of that
entity below N. That holds even when a parent's batch frees parked children of an
entity whose own batch is running, and it is what lets the change feed page by id and
keeps a key's events in order.
"""

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from bridge_core.db.ddl import lock_ddl
from bridge_core.db.driver import asyncpg_connection
from bridge_core.db.repository import Repository
from syncflow.domain import BRIDGE_COLUMN_NAMES, EntitySpec, Record, parent_column
from syncflow.pipeline.frames.events import EVENT_COLUMNS
from syncflow.pipeline.load import SEEN_TABLE, quote, target_name

OUTBOX_SCHEMA = "syncflow_delivery"
OUTBOX_TABLE = f"{quote(OUTBOX_SCHEMA)}.outbox_events"
# the seed of the per-entity writer lock's key (hashtextextended of the entity name)
_ENTITY_LOCK_SEED = 0x0B0C
FEED_COLUMNS = (
    "id, entity, bridge_uid, key_hash, operation, data_hash, rowversion, batch_uid, data, "
    "parent_key_hashes, created_at"
)


@asynccontextmanager
async def _instants_in_utc(driver: asyncpg.Connection) -> AsyncIterator[None]:
    """Render instants in UTC for the statements inside (``to_jsonb`` writes them in the
    session's time zone): an event's data reads the same whoever wrote it, the SQL or the
    column lane. The session's zone is back afterwards, for the rest of the transaction."""
    previous = await driver.fetchval("SELECT current_setting('TimeZone')")
    await driver.execute("SELECT set_config('TimeZone', 'UTC', true)")
    try:
        yield
    finally:
        await driver.execute("SELECT set_config('TimeZone', $1, true)", previous)


# an event as it is sent: its ScheduleHub ``record`` as JSON text made by PostgreSQL
# ($2: the entity paths at the destination, as a JSON object)
_RECORD = (
    "id, key_hash, operation, data_hash, bridge_uid, parent_key_hashes, created_at, "
    "(data || jsonb_build_object('erp_key_hash', key_hash, 'erp_data_hash', data_hash, "
    "'erp_rowversion', rowversion, 'erp_ref_str', bridge_uid::text, "
    "'parent_refs', COALESCE((SELECT jsonb_object_agg(COALESCE($2::jsonb ->> p.key, "
    "p.key), p.value) FROM jsonb_each(parent_key_hashes) p), '{}'::jsonb)))::text "
    "AS record"
)
# ... and its webhook and change feed ``item``
_TO_SEND = (
    f"{_RECORD}, jsonb_build_object('id', id, "
    "'op', CASE WHEN operation = 'delete' THEN 'delete' ELSE 'upsert' END, "
    "'operation', operation, 'key_hash', key_hash, 'uid', bridge_uid, "
    "'data_hash', data_hash, 'rowversion', rowversion, 'ref_str', bridge_uid::text, "
    "'batch_uid', batch_uid, 'data', data, 'parent_key_hashes', parent_key_hashes, "
    "'created_at', created_at)::text AS item"
)


async def _lock_entity(driver: asyncpg.Connection, entity: str) -> None:
    """Hold the entity's outbox writer lock until the transaction ends (see module doc)."""
    await driver.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, $2))", entity, _ENTITY_LOCK_SEED
    )


def _hidden_columns(spec: EntitySpec) -> list[str]:
    """Columns of the target row that are SyncFlow's, not the mapped row's."""
    return [*BRIDGE_COLUMN_NAMES, *(parent_column(ref.parent_entity) for ref in spec.parent_refs)]


class OutboxRepository(Repository):
    """The outbox table in the target database: created, written by chunks, read by the feed."""

    async def ensure_table(self) -> None:
        """Create the outbox in the target database when it is missing."""
        driver = await asyncpg_connection(self.conn)
        exists = "SELECT to_regclass($1) IS NOT NULL"
        if await driver.fetchval(exists, f"{OUTBOX_SCHEMA}.outbox_events"):
            return
        await lock_ddl(self.conn)
        if await driver.fetchval(exists, f"{OUTBOX_SCHEMA}.outbox_events"):
            return  # another worker created it while this one waited for the lock
        await driver.execute(
            f"CREATE SCHEMA IF NOT EXISTS {quote(OUTBOX_SCHEMA)};"
            f"CREATE TABLE IF NOT EXISTS {OUTBOX_TABLE} ("
            "id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            "entity text NOT NULL,"
            "bridge_uid uuid NOT NULL,"
            "key_hash char(32) NOT NULL,"
            "operation text NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),"
            "data_hash char(64) NOT NULL,"
            "rowversion text,"
            "batch_uid uuid NOT NULL,"
            "data jsonb NOT NULL,"
            "parent_key_hashes jsonb NOT NULL,"
            "created_at timestamptz NOT NULL DEFAULT now());"
            f"CREATE INDEX IF NOT EXISTS outbox_events_entity_id ON {OUTBOX_TABLE} (entity, id)"
        )

    async def record_changes(
        self,
        spec: EntitySpec,
        *,
        inserted: Sequence[Record],
        updated: Sequence[Record],
        batch_uid: UUID,
    ) -> int:
        """One event per row just inserted or updated in ``spec``'s target; how many."""
        records = [*inserted, *updated]
        return await self.record_keys(
            spec,
            key_hashes=[r.key_hash for r in records],
            operations=["insert"] * len(inserted) + ["update"] * len(updated),
            parents=[json.dumps(r.parent_key_hashes, sort_keys=True) for r in records],
            batch_uid=batch_uid,
        )

    async def record_keys(
        self,
        spec: EntitySpec,
        *,
        key_hashes: Sequence[str],
        operations: Sequence[str],
        parents: Sequence[str] | None = None,
        batch_uid: UUID,
    ) -> int:
        """One event per key (hex) just written to ``spec``'s target, read back from the
        stored row, in the order given; ``parents``: each row's parent key hashes as a
        JSON object (none: ``{}``). How many."""
        if not key_hashes:
            return 0
        driver = await asyncpg_connection(self.conn)
        await _lock_entity(driver, spec.name)
        async with _instants_in_utc(driver):
            status = await driver.execute(
                f"INSERT INTO {OUTBOX_TABLE} (entity, bridge_uid, key_hash, operation, "
                "data_hash, rowversion, batch_uid, data, parent_key_hashes) "
                "SELECT $4, t._bridge_uid, k.key_hash, k.operation, "
                "encode(t._bridge_data_hash, 'hex'), "
                "t._bridge_rowversion, $5, to_jsonb(t) - $6::text[], k.parents::jsonb "
                "FROM unnest($1::text[], $2::text[], $3::text[]) "
                "WITH ORDINALITY AS k(key_hash, operation, parents, position) "
                # LATERAL: one index probe per key, also while a freshly loaded table has
                # no statistics (a join would scan the whole table for every chunk; see
                # load._by_key)
                f"CROSS JOIN LATERAL (SELECT * FROM {target_name(spec)} r "
                "WHERE r._bridge_key_hash = k.key_hash::uuid) AS t "
                "ORDER BY k.position",
                list(key_hashes),
                list(operations),
                list(parents) if parents is not None else ["{}"] * len(key_hashes),
                spec.name,
                batch_uid,
                _hidden_columns(spec),
            )
        return int(status.rsplit(" ", 1)[-1])

    async def copy_events(self, entity: str, payload: bytes) -> None:
        """Append events given as binary COPY rows of ``events.EVENT_COLUMNS`` (the column
        lane's, :mod:`syncflow.pipeline.frames.events`)."""
        driver = await asyncpg_connection(self.conn)
        await _lock_entity(driver, entity)
        await driver.copy_to_table(
            "outbox_events",
            schema_name=OUTBOX_SCHEMA,
            source=memoryview(payload),
            columns=list(EVENT_COLUMNS),
            format="binary",
        )

    async def record_deletes(self, spec: EntitySpec, *, batch_uid: UUID) -> int:
        """One ``delete`` event per live row this batch did not see (call it just before the
        deletes are applied, in the same transaction); how many."""
        driver = await asyncpg_connection(self.conn)
        hidden = _hidden_columns(spec)
        # a deleted row's parent key hashes are not kept in the target: a delete needs none
        await _lock_entity(driver, spec.name)
        async with _instants_in_utc(driver):
            status = await driver.execute(
                f"INSERT INTO {OUTBOX_TABLE} (entity, bridge_uid, key_hash, operation, data_hash, "
                "rowversion, batch_uid, data, parent_key_hashes) "
                "SELECT $2, t._bridge_uid, replace(t._bridge_key_hash::text, '-', ''), 'delete', "
                "encode(t._bridge_data_hash, 'hex'), "
                "t._bridge_rowversion, $1, to_jsonb(t) - $3::text[], '{}'::jsonb "
                f"FROM {target_name(spec)} t WHERE t._bridge_deleted_at IS NULL "
                f"AND NOT EXISTS (SELECT 1 FROM {SEEN_TABLE} s "
                "WHERE s.batch_uid = $1 AND s.key_hash = t._bridge_key_hash) "
                "ORDER BY t._bridge_key_hash",
                batch_uid,
                spec.name,
                hidden,
            )
        return int(status.rsplit(" ", 1)[-1])

    async def events_after(self, *, entity: str, after: int, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` of an entity's events with ids above ``after``, oldest first
        (none while no batch has created the outbox yet)."""
        driver = await asyncpg_connection(self.conn)
        if not await self._exists(driver):
            return []
        rows = await driver.fetch(
            f"SELECT {FEED_COLUMNS} FROM {OUTBOX_TABLE} WHERE entity = $1 AND id > $2 "
            "ORDER BY id LIMIT $3",
            entity,
            after,
            limit,
        )
        return [dict(row) for row in rows]

    async def _exists(self, driver: asyncpg.Connection) -> bool:
        return bool(
            await driver.fetchval(
                "SELECT to_regclass($1) IS NOT NULL", f"{OUTBOX_SCHEMA}.outbox_events"
            )
        )

    async def events_for_delivery(
        self, *, entity: str, after: int, limit: int
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` of an entity's events after ``after`` without their data (what a
        delivery stream copies); none while the outbox does not exist."""
        driver = await asyncpg_connection(self.conn)
        if not await self._exists(driver):
            return []
        rows = await driver.fetch(
            "SELECT id, bridge_uid, key_hash, operation, data_hash, parent_key_hashes, "
            f"created_at FROM {OUTBOX_TABLE} WHERE entity = $1 AND id > $2 ORDER BY id LIMIT $3",
            entity,
            after,
            limit,
        )
        return [dict(row) for row in rows]

    async def events_to_send(
        self, ids: Sequence[int], *, paths: dict[str, str]
    ) -> dict[int, dict[str, Any]]:
        """Events by id, each with its ScheduleHub ``record`` and its webhook/feed ``item``
        as JSON text made by PostgreSQL, so numerics keep every digit (no float between).
        A record's ``parent_refs`` name each parent by its path at the destination
        (``paths``, default the entity's name), as ScheduleHub knows it."""
        driver = await asyncpg_connection(self.conn)
        rows = await driver.fetch(
            f"SELECT {_TO_SEND} FROM {OUTBOX_TABLE} WHERE id = ANY($1::bigint[])",
            list(ids),
            json.dumps(paths),
        )
        return {row["id"]: dict(row) for row in rows}

    async def window_to_send(
        self, *, entity: str, after: int, limit: int, paths: dict[str, str]
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` of an entity's events after ``after``, oldest first, each with
        its ScheduleHub ``record`` as :meth:`events_to_send` makes it (none while the
        outbox does not exist)."""
        driver = await asyncpg_connection(self.conn)
        if not await self._exists(driver):
            return []
        rows = await driver.fetch(
            f"SELECT {_RECORD} FROM {OUTBOX_TABLE} WHERE entity = $3 AND id > $4 "
            "ORDER BY id LIMIT $1",
            limit,
            json.dumps(paths),
            entity,
            after,
        )
        return [dict(row) for row in rows]

    async def heads(self, entities: Sequence[str]) -> dict[str, int]:
        """The newest event id of each of ``entities`` (0 for none)."""
        driver = await asyncpg_connection(self.conn)
        if not await self._exists(driver):
            return dict.fromkeys(entities, 0)
        rows = await driver.fetch(
            f"SELECT n.entity, (SELECT max(id) FROM {OUTBOX_TABLE} e WHERE e.entity = n.entity) "
            "AS head FROM unnest($1::text[]) AS n(entity)",
            list(entities),
        )
        return {row["entity"]: int(row["head"] or 0) for row in rows}

    async def prune(self, *, entity: str, up_to: int | None, older_than: datetime) -> int:
        """Delete the entity's events created before ``older_than`` with ids up to
        ``up_to`` (every destination has them; ``None``: no destination reads them)."""
        driver = await asyncpg_connection(self.conn)
        if not await self._exists(driver):
            return 0
        status = await driver.execute(
            f"DELETE FROM {OUTBOX_TABLE} WHERE entity = $1 AND created_at < $2 "
            "AND ($3::bigint IS NULL OR id <= $3)",
            entity,
            older_than,
            up_to,
        )
        return int(status.rsplit(" ", 1)[-1])
