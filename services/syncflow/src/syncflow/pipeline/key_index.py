"""The unique index on a target's ``_bridge_key_hash``: deferred during a first load.

Keeping a unique B-tree on random 128-bit hashes up to date costs a first load more
than everything else the database does for it (bench/RESULTS.md: 1.5M rows COPYed
into the target's shape take 13.4 s with the index kept, 5.9 s when it is built
afterwards). So a batch that finds its target empty drops the index, COPYs its rows
in, and builds the index when its read ends (:meth:`KeyIndexRepository.ensure`).

Without the index a key read twice in one first load (a row updated while the load
ran comes again later in rowversion order) is stored twice; when building the index
meets such a key, the rows are merged, as the chunk-by-chunk lookup would have: the row keeps the
uid and creation time of its first read and the data of its last, and each merged
row is counted ``duplicate`` instead of ``inserted``.

Anything that needs the index (a lookup of existing keys, an ``ON CONFLICT`` merge)
calls :meth:`KeyIndexRepository.ensure` first, so a first load that failed, was
cancelled or is still running never leaves another writer without the index.
"""

import asyncpg

from bridge_core.db.driver import asyncpg_connection
from bridge_core.db.repository import Repository
from syncflow.delivery.loads import OutboxLoads
from syncflow.domain import EntitySpec
from syncflow.pipeline.load import OUTBOX_TABLE, target_name

KEY_COLUMN = "_bridge_key_hash"

# the unique constraint on the key hash column alone, whatever its name
_KEY_CONSTRAINT = (
    "SELECT c.conname FROM pg_constraint c "
    "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
    "WHERE c.conrelid = $1::text::regclass AND c.contype = 'u' "
    f"AND cardinality(c.conkey) = 1 AND a.attname = '{KEY_COLUMN}'"
)


class KeyIndexRepository(Repository):
    """Drops and builds the key hash index of an entity's target table."""

    async def drop_if_empty(self, spec: EntitySpec) -> bool:
        """Drop the key index when the table holds no row; ``True`` when it is dropped.

        The drop locks the table first, so no writer can add a row between the check
        and the drop; the caller's transaction holds the lock until it commits.
        """
        driver = await asyncpg_connection(self.conn)
        table = target_name(spec)
        await driver.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        if await driver.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
            return False
        name = await driver.fetchval(_KEY_CONSTRAINT, table)
        if name is None:
            return True  # already dropped by a first load that did not finish
        await driver.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        return True

    async def ensure(self, spec: EntitySpec) -> int:
        """Build the key index if it is missing, merging rows stored twice first; return
        how many rows were merged away (0 when the index was there)."""
        driver = await asyncpg_connection(self.conn)
        table = target_name(spec)
        if await driver.fetchval(_KEY_CONSTRAINT, table) is not None:
            return 0
        await driver.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        if await driver.fetchval(_KEY_CONSTRAINT, table) is not None:
            return 0  # another writer built it while this one waited for the lock
        add_index = f"ALTER TABLE {table} ADD UNIQUE ({KEY_COLUMN})"
        try:
            async with driver.transaction():  # a savepoint: a repeated key undoes only this
                await driver.execute(add_index)
            return 0
        except asyncpg.UniqueViolationError:
            pass  # rare: look for repeated keys only then, not with a scan on every load
        merged = await self._merge_repeated_keys(spec)
        await driver.execute(add_index)
        return merged

    async def _merge_repeated_keys(self, spec: EntitySpec) -> int:
        """Keep one row per key: the last read's data under the first read's uid and
        creation time (uids are UUIDv7, so their order is the order of the writes)."""
        driver = await asyncpg_connection(self.conn)
        table = target_name(spec)
        # the loads' events are made while every read's row is there, so the event of
        # the last read is one of them and is moved to the row that stays below
        await OutboxLoads(self.conn).expand(spec.name, writer=True)
        await driver.execute(
            "CREATE TEMP TABLE _bridge_repeated ON COMMIT DROP AS "
            f"SELECT {KEY_COLUMN} AS key_hash, min(_bridge_uid::text)::uuid AS first_uid, "
            "max(_bridge_uid::text)::uuid AS last_uid, min(_bridge_created_at) AS created_at "
            f"FROM {table} GROUP BY {KEY_COLUMN} HAVING count(*) > 1"
        )
        status = await driver.execute(
            f"DELETE FROM {table} t USING _bridge_repeated r "
            f"WHERE t.{KEY_COLUMN} = r.key_hash AND t._bridge_uid <> r.last_uid"
        )
        await driver.execute(
            f"UPDATE {table} t SET _bridge_uid = r.first_uid, _bridge_created_at = r.created_at "
            "FROM _bridge_repeated r WHERE t._bridge_uid = r.last_uid"
        )
        if await driver.fetchval("SELECT to_regclass($1) IS NOT NULL", OUTBOX_TABLE):
            # the outbox event of the last read names the row that stays, now under the
            # first read's uid (the earlier reads' events are superseded: their rows went)
            await driver.execute(
                f"UPDATE {OUTBOX_TABLE} e SET bridge_uid = r.first_uid "
                "FROM _bridge_repeated r WHERE e.bridge_uid = r.last_uid"
            )
        await driver.execute("DROP TABLE _bridge_repeated")
        return int(status.rsplit(" ", 1)[-1])
