"""Loads: the rows a chunk COPYed in by the column lane, named by uid, and their
expansion into ``insert`` events.

A chunk of the column lane (a first load's, a sync's new keys) writes no event row per
target row: it writes one **load** (``outbox_loads``: the target table, the batch, the
rows' uids in COPY order). Every reader of an entity's events, every writer of its other
events and every chunk about to change rows already in its target **expands** the
entity's loads first (:meth:`OutboxLoads.expand`), under the entity's writer lock: one
``INSERT ... SELECT`` per load over the stored rows makes the same ``insert`` events
per-row writing would have made, oldest load first, in COPY order, each naming its row
as the load wrote it. So a key's events stay in order, and a reader sees what per-row
events would have shown (services/syncflow/docs/delivery.md, "How events are written").
"""

import time
from uuid import UUID

import asyncpg
from loguru import logger

from bridge_core.db.driver import asyncpg_connection
from bridge_core.db.repository import Repository
from syncflow.delivery.writer_lock import lock_entity
from syncflow.domain import EntitySpec
from syncflow.pipeline.load import OUTBOX_LOADS, OUTBOX_SCHEMA, OUTBOX_TABLE, target_name

# the head of an entity whose loads are not expanded yet: above any cursor (bigint's top)
UNREAD_LOADS = 2**63 - 1
# an expansion of this many events analyzes the outbox (see OutboxLoads.expand)
_ANALYZE_AFTER = 50_000
# loads not expanded yet: a few per entity at a time, so no index beyond the key
LOADS_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {OUTBOX_LOADS} ("
    "id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "entity text NOT NULL,"
    "target regclass NOT NULL,"
    "batch_uid uuid NOT NULL,"
    "row_count integer NOT NULL,"
    "uids uuid[] NOT NULL,"
    "created_at timestamptz NOT NULL DEFAULT now())"
)


async def has_loads(driver: asyncpg.Connection) -> bool:
    """Whether the loads table exists (an outbox from before loads has none until a batch
    plans a delivered entity)."""
    return bool(
        await driver.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{OUTBOX_SCHEMA}.outbox_loads")
    )


class OutboxLoads(Repository):
    """The loads table in the target database: written by lane chunks, expanded by the
    readers and writers of an entity's events."""

    async def record(self, spec: EntitySpec, *, uids: bytes, count: int, batch_uid: UUID) -> None:
        """One load naming ``count`` rows just COPYed into ``spec``'s target with these
        ``_bridge_uid``s (16 bytes each, in COPY order): their ``insert`` events, to be made
        by :meth:`expand`."""
        if not count:
            return
        driver = await asyncpg_connection(self.conn)
        await lock_entity(driver, spec.name)
        # the uids as uuid[], unnested once by the expansion (a substring of a stored,
        # TOASTed bytea reads the whole value again: 0.7 s a load, measured)
        await driver.execute(
            f"INSERT INTO {OUTBOX_LOADS} (entity, target, batch_uid, row_count, uids) "
            "SELECT $1, $2::regclass, $3, $4, array_agg(encode(substring($5::bytea "
            "FROM i * 16 + 1 FOR 16), 'hex')::uuid ORDER BY i) "
            "FROM generate_series(0, $4 - 1) AS i",
            spec.name,
            target_name(spec),
            batch_uid,
            count,
            uids,
        )

    async def expand(self, entity: str, *, writer: bool = False) -> int:
        """Turn the entity's loads into their ``insert`` events, oldest load first, each
        naming its row as stored now; how many events. Takes the entity's writer lock
        when there are loads. ``writer``: the caller is about to add events of the entity
        or change its rows; the lock is taken before looking, so a load committed while
        it waited is not missed."""
        driver = await asyncpg_connection(self.conn)
        if not await has_loads(driver):
            return 0
        if writer:
            await lock_entity(driver, entity)
        if not await driver.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {OUTBOX_LOADS} WHERE entity = $1)", entity
        ):
            return 0
        if not writer:  # a reader locks only when there is something to expand
            await lock_entity(driver, entity)
        start = time.perf_counter()
        loads = await driver.fetch(
            "SELECT id, target::text AS target, "
            "EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = l.target) AS present "
            f"FROM {OUTBOX_LOADS} l WHERE entity = $1 ORDER BY id",
            entity,
        )
        if not loads:
            return 0  # another reader expanded them while this one waited for the lock
        expanded = 0
        # a load whose target table was dropped (its entity deleted) names no row now
        for load in (load for load in loads if load["present"]):
            status = await driver.execute(
                f"INSERT INTO {OUTBOX_TABLE} (entity, bridge_uid, key_hash, operation, "
                "data_hash, rowversion, batch_uid, parent_key_hashes, created_at) "
                "SELECT m.entity, t._bridge_uid, replace(t._bridge_key_hash::text, '-', ''), "
                "'insert', encode(t._bridge_data_hash, 'hex'), t._bridge_rowversion, "
                f"m.batch_uid, '{{}}'::jsonb, m.created_at FROM {OUTBOX_LOADS} m "
                "CROSS JOIN LATERAL unnest(m.uids) WITH ORDINALITY AS u(uid, position) "
                f"JOIN {load['target']} t ON t._bridge_uid = u.uid "
                "WHERE m.id = $1 ORDER BY u.position",
                load["id"],
            )
            expanded += int(status.rsplit(" ", 1)[-1])
        await driver.execute(
            f"DELETE FROM {OUTBOX_LOADS} WHERE id = ANY($1::bigint[])", [r["id"] for r in loads]
        )
        if expanded >= _ANALYZE_AFTER:
            # without statistics of the new events the planner took the next window of
            # 4,000 for a few hundred rows and sorted all 1.5M of a first load for each
            # window (3.5 s a window, measured); the autovacuum daemon may come late
            await driver.execute(f"ANALYZE {OUTBOX_TABLE}")
        logger.info(
            "outbox: {} insert events of {} made from {} loads in {:.2f} s",
            expanded,
            entity,
            len(loads),
            time.perf_counter() - start,
        )
        return expanded
