"""The transactional outbox: one event per row a chunk inserts, updates or deletes.

The outbox lives in the TARGET database (schema ``syncflow_delivery``), beside the target
tables, because an event must commit in the same transaction as its row and SyncFlow's
own database may be another server (``SYNCFLOW_TARGET_DATABASE_URL``). Events are written
set-based, by one ``INSERT ... SELECT`` per chunk that reads the rows as they were just stored
(their ``_bridge_uid``, data hash and rowversion), so an event can never disagree with
its row. A dry run writes no rows and so no events.

An insert or update event names the row version it wrote (uid and data hash) and keeps
no copy of the mapped row: the row is read when the event is sent or read from the feed
(:mod:`syncflow.delivery.outbox_reads`). Copying every row into the outbox as JSON
cost more than the target's own COPY (2.1 s against 1.3 s per 300,000 rows of
``orders``, bench/RESULTS.md). A delete event keeps the row's last mapped values, since a
hard delete leaves nothing to read.

The rows a chunk COPYs in by the column lane (a first load's, a sync's new keys) get no
event row each: the chunk writes one **load**, expanded into their ``insert`` events
before the entity's events are next read or written (:mod:`syncflow.delivery.loads`).
A whole first load thus pays for one small row a chunk instead of an event row per target
row (bench/RESULTS.md); its events are made after the sync, by the first delivery step.

Event ids come from an identity column. A writer takes a per-entity transaction lock
before it adds events (:mod:`syncflow.delivery.writer_lock`), so within an entity ids are
handed out in commit order: a reader that has seen id N never later finds a committed
event of that entity below N. That holds even when a parent's batch frees parked
children of an entity whose own batch is running, and it is what lets the change feed
page by id and keeps a key's events in order.
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
from syncflow.delivery.loads import LOADS_TABLE, UNREAD_LOADS, OutboxLoads, has_loads
from syncflow.delivery.writer_lock import lock_entity
from syncflow.domain import BRIDGE_COLUMN_NAMES, EntitySpec, Record, parent_column
from syncflow.pipeline.load import (
    OUTBOX_LOADS,
    OUTBOX_SCHEMA,
    OUTBOX_TABLE,
    UNSEEN_ROWS,
    quote,
    target_name,
)


@asynccontextmanager
async def instants_in_utc(driver: asyncpg.Connection) -> AsyncIterator[None]:
    """Render instants in UTC for the statements inside (``to_jsonb`` writes them in the
    session's time zone): an event's data reads the same whoever reads it. The session's
    zone is back afterwards, for the rest of the transaction."""
    previous = await driver.fetchval("SELECT current_setting('TimeZone')")
    await driver.execute("SELECT set_config('TimeZone', 'UTC', true)")
    try:
        yield
    finally:
        await driver.execute("SELECT set_config('TimeZone', $1, true)", previous)


_EVENTS_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {OUTBOX_TABLE} ("
    "id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "entity text NOT NULL,"
    "bridge_uid uuid NOT NULL,"
    "key_hash char(32) NOT NULL,"
    "operation text NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),"
    "data_hash char(64) NOT NULL,"
    "rowversion text,"
    "batch_uid uuid NOT NULL,"
    "data jsonb,"
    "parent_key_hashes jsonb NOT NULL,"
    "created_at timestamptz NOT NULL DEFAULT now());"
    f"CREATE INDEX IF NOT EXISTS outbox_events_entity_id ON {OUTBOX_TABLE} (entity, id)"
)


def hidden_columns(spec: EntitySpec) -> list[str]:
    """Columns of the target row that are SyncFlow's, not the mapped row's."""
    return [*BRIDGE_COLUMN_NAMES, *(parent_column(ref.parent_entity) for ref in spec.parent_refs)]


class OutboxRepository(Repository):
    """The outbox table in the target database: created, written by chunks, read by the feed."""

    async def ensure_table(self) -> None:
        """Create the outbox in the target database when it is missing."""
        driver = await asyncpg_connection(self.conn)
        # NULL: no outbox; true: an outbox from before events named their rows, whose
        # data column must take NULLs (a catalog change, no rewrite)
        shape = (
            "SELECT NOT a.attnotnull FROM pg_attribute a WHERE a.attname = 'data' "
            "AND a.attrelid = to_regclass($1)"
        )
        if await driver.fetchval(shape, f"{OUTBOX_SCHEMA}.outbox_events") and await has_loads(
            driver
        ):
            return
        await lock_ddl(self.conn)
        current = await driver.fetchval(shape, f"{OUTBOX_SCHEMA}.outbox_events")
        if current is False:
            await driver.execute(f"ALTER TABLE {OUTBOX_TABLE} ALTER COLUMN data DROP NOT NULL")
        if current is None:
            await driver.execute(
                f"CREATE SCHEMA IF NOT EXISTS {quote(OUTBOX_SCHEMA)};{_EVENTS_TABLE}"
            )
        # an outbox from before loads gets their table (IF NOT EXISTS: another worker may
        # have just created it)
        await driver.execute(LOADS_TABLE)

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
        """One event per key (hex) just written to ``spec``'s target, naming the stored
        row (uid, data hash, rowversion), in the order given; ``parents``: each row's
        parent key hashes as a JSON object (none: ``{}``). How many."""
        if not key_hashes:
            return 0
        driver = await asyncpg_connection(self.conn)
        await OutboxLoads(self.conn).expand(
            spec.name, writer=True
        )  # its earlier inserts come first
        await lock_entity(driver, spec.name)
        status = await driver.execute(
            f"INSERT INTO {OUTBOX_TABLE} (entity, bridge_uid, key_hash, operation, "
            "data_hash, rowversion, batch_uid, parent_key_hashes) "
            "SELECT $4, t._bridge_uid, k.key_hash, k.operation, "
            "encode(t._bridge_data_hash, 'hex'), t._bridge_rowversion, $5, k.parents::jsonb "
            "FROM unnest($1::text[], $2::text[], $3::text[]) "
            "WITH ORDINALITY AS k(key_hash, operation, parents, position) "
            # LATERAL: one index probe per key, also while a freshly loaded table has
            # no statistics (a join would scan the whole table for every chunk; see
            # load._by_key)
            "CROSS JOIN LATERAL (SELECT r._bridge_uid, r._bridge_data_hash, "
            f"r._bridge_rowversion FROM {target_name(spec)} r "
            "WHERE r._bridge_key_hash = k.key_hash::uuid) AS t "
            "ORDER BY k.position",
            list(key_hashes),
            list(operations),
            list(parents) if parents is not None else ["{}"] * len(key_hashes),
            spec.name,
            batch_uid,
        )
        return int(status.rsplit(" ", 1)[-1])

    async def record_deletes(self, spec: EntitySpec, *, batch_uid: UUID) -> int:
        """One ``delete`` event per live row this batch did not see (call it just before the
        deletes are applied, in the same transaction, after
        ``TargetRepository.count_delete_candidates`` has found them); how many."""
        driver = await asyncpg_connection(self.conn)
        hidden = hidden_columns(spec)
        # a deleted row's parent key hashes are not kept in the target: a delete needs none
        await OutboxLoads(self.conn).expand(spec.name, writer=True)
        await lock_entity(driver, spec.name)
        async with instants_in_utc(driver):
            status = await driver.execute(
                f"INSERT INTO {OUTBOX_TABLE} (entity, bridge_uid, key_hash, operation, data_hash, "
                "rowversion, batch_uid, data, parent_key_hashes) "
                "SELECT $2, t._bridge_uid, replace(t._bridge_key_hash::text, '-', ''), 'delete', "
                "encode(t._bridge_data_hash, 'hex'), "
                "t._bridge_rowversion, $1, to_jsonb(t) - $3::text[], '{}'::jsonb "
                f"FROM {target_name(spec)} t WHERE {UNSEEN_ROWS} "
                "ORDER BY t._bridge_key_hash",
                batch_uid,
                spec.name,
                hidden,
            )
        return int(status.rsplit(" ", 1)[-1])

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
        await OutboxLoads(self.conn).expand(entity)
        rows = await driver.fetch(
            "SELECT id, bridge_uid, key_hash, operation, data_hash, "
            "parent_key_hashes::text AS parent_key_hashes, "
            f"created_at FROM {OUTBOX_TABLE} WHERE entity = $1 AND id > $2 ORDER BY id LIMIT $3",
            entity,
            after,
            limit,
        )
        return [dict(row) for row in rows]

    async def unread(
        self, positions: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], tuple[int, datetime | None]]:
        """For each (entity, cursor): how many of the entity's events come after the
        cursor, and when the oldest of them was written (the rows of loads not expanded
        yet count: their events will come after every cursor)."""
        driver = await asyncpg_connection(self.conn)
        if not positions or not await self._exists(driver):
            return {}
        events = f"FROM {OUTBOX_TABLE} e WHERE e.entity = p.entity AND e.id > p.after"
        loads = f"FROM {OUTBOX_LOADS} l WHERE l.entity = p.entity"
        if await has_loads(driver):
            unread = f"(SELECT count(*) {events}) + (SELECT coalesce(sum(row_count), 0) {loads})"
            oldest = f"least((SELECT min(e.created_at) {events}), (SELECT min(created_at) {loads}))"
        else:
            unread, oldest = f"(SELECT count(*) {events})", f"(SELECT min(e.created_at) {events})"
        rows = await driver.fetch(
            f"SELECT p.entity, p.after, {unread} AS unread, {oldest} AS oldest "
            "FROM unnest($1::text[], $2::bigint[]) AS p(entity, after)",
            [entity for entity, _ in positions],
            [after for _, after in positions],
        )
        return {(r["entity"], r["after"]): (int(r["unread"]), r["oldest"]) for r in rows}

    async def heads(self, entities: Sequence[str]) -> dict[str, int]:
        """The newest event id of each of ``entities`` (0 for none); while the entity
        has loads not expanded yet, the largest id there can be (no reader has read
        their events, whose ids come later), so that a child waits for its parent's
        stream to read them. No lock: expanding the loads of several entities here would
        take their writer locks in another order than a chunk that frees children does."""
        driver = await asyncpg_connection(self.conn)
        if not await self._exists(driver):
            return dict.fromkeys(entities, 0)
        loading = (
            f"EXISTS (SELECT 1 FROM {OUTBOX_LOADS} l WHERE l.entity = n.entity)"
            if await has_loads(driver)
            else "false"
        )
        rows = await driver.fetch(
            f"SELECT n.entity, (SELECT max(id) FROM {OUTBOX_TABLE} e WHERE e.entity = n.entity) "
            f"AS head, {loading} AS loading FROM unnest($1::text[]) AS n(entity)",
            list(entities),
        )
        return {
            row["entity"]: UNREAD_LOADS if row["loading"] else int(row["head"] or 0) for row in rows
        }

    async def prune(self, *, entity: str, up_to: int | None, older_than: datetime) -> int:
        """Delete the entity's events created before ``older_than`` with ids up to
        ``up_to`` (every destination has them; ``None``: no destination reads them, and
        its loads that old go too)."""
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
        pruned = int(status.rsplit(" ", 1)[-1])
        if up_to is None and await has_loads(driver):
            pruned += await driver.fetchval(
                f"WITH gone AS (DELETE FROM {OUTBOX_LOADS} WHERE entity = $1 "
                "AND created_at < $2 RETURNING row_count) SELECT coalesce(sum(row_count), 0) "
                "FROM gone",
                entity,
                older_than,
            )
        return pruned
