"""The target writes and reads of the column lane's rows: binary COPY into the target, and
one statement that merges a chunk's rows and says what it did with each.

Like :class:`~syncflow.pipeline.load.TargetRepository`, everything runs on the
connection it is given, inside the chunk's transaction.
"""

from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from bridge_core.db.driver import asyncpg_connection
from bridge_core.db.repository import Repository
from syncflow.domain import EntitySpec
from syncflow.pipeline.frames.known import KnownRows, KnownRowsParser
from syncflow.pipeline.load import (
    STAGE,
    WORK_SCHEMA,
    copy_columns,
    merge_statement,
    stage,
    target_name,
)


@dataclass(slots=True)
class Upserted:
    """The keys (16-byte key hashes) of a merge's rows by what it did: ``inserted`` new
    keys, ``updated`` rows changed since an earlier batch wrote them (or soft-deleted),
    and ``ours``, keys this batch wrote in an earlier chunk, left for the row-wise delta.
    The other rows were unchanged."""

    inserted: list[bytes] = field(default_factory=list)
    updated: list[bytes] = field(default_factory=list)
    ours: list[bytes] = field(default_factory=list)


class FrameTargetRepository(Repository):
    """An entity's target table, written and probed with binary COPY payloads."""

    async def copy_new(self, spec: EntitySpec, payload: bytes) -> bool:
        """COPY rows whose keys the target should not hold yet straight into it;
        ``False`` (and nothing written) when one of the keys is there after all."""
        driver = await asyncpg_connection(self.conn)
        try:
            async with driver.transaction():  # a savepoint: a conflict undoes only this
                await driver.copy_to_table(
                    spec.target_table,
                    schema_name=spec.target_schema,
                    source=memoryview(payload),
                    columns=copy_columns(spec),
                    format="binary",
                )
        except asyncpg.UniqueViolationError:
            return False
        return True

    async def known_rows(
        self, spec: EntitySpec, *, batch_uid: UUID, limit: int
    ) -> KnownRows | None:
        """The live rows earlier batches wrote, by key and data hash prefixes
        (:mod:`.known`): at most ``limit`` of them, the first in key order (the keys
        beyond are left to the target); ``None`` with a ``limit`` of 0."""
        if limit <= 0:
            return None
        driver = await asyncpg_connection(self.conn)
        table = target_name(spec)
        estimate = await driver.fetchval(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)", table
        )
        if estimate is None or estimate < 0:  # never counted: the arrays grow as rows come
            estimate = 0
        parser = KnownRowsParser(min(int(estimate * 1.05) + 1000, limit))
        await driver.copy_from_query(
            "SELECT _bridge_key_hash, substring(_bridge_data_hash FROM 1 FOR 8) "
            f"FROM {table} WHERE _bridge_deleted_at IS NULL "
            "AND octet_length(_bridge_data_hash) = 32 "
            "AND _bridge_batch_uid IS DISTINCT FROM $1 ORDER BY _bridge_key_hash LIMIT $2",
            batch_uid,
            limit,
            output=parser.feed,
            format="binary",
        )
        return parser.rows()

    async def mark_seen(self, payload: bytes) -> None:
        """Remember the keys a batch read (``copy_binary.seen_payload``), for deletes."""
        driver = await asyncpg_connection(self.conn)
        await driver.copy_to_table(
            "seen_keys",
            schema_name=WORK_SCHEMA,
            source=memoryview(payload),
            columns=["batch_uid", "key_hash"],
            format="binary",
        )

    async def upsert(self, spec: EntitySpec, payload: bytes, *, batch_uid: UUID) -> Upserted:
        """Merge ``payload``'s rows (binary COPY rows of every column,
        ``copy_binary.rows_payload``, keys distinct) in one statement: new keys are
        inserted, rows changed since an earlier batch wrote them (or soft-deleted) are
        updated, keeping their uid and creation time; unchanged rows and keys this
        batch wrote itself are left alone, and the latter are named. Each key costs
        PostgreSQL one index probe, that of ``ON CONFLICT``."""
        driver = await asyncpg_connection(self.conn)
        await stage(driver, spec, payload, binary=True)
        # the second part reads the target as it was before the merge (one snapshot)
        rows = await driver.fetch(
            f"WITH written AS ({merge_statement(spec, but_batch='$1')} "
            "RETURNING t._bridge_key_hash AS key, t.xmax = 0 AS inserted) "
            "SELECT uuid_send(key) AS key, inserted FROM written UNION ALL "
            f"SELECT uuid_send(s._bridge_key_hash), NULL FROM {STAGE} s "
            "WHERE NOT EXISTS (SELECT 1 FROM written w WHERE w.key = s._bridge_key_hash) "
            f"AND EXISTS (SELECT 1 FROM {target_name(spec)} t "
            "WHERE t._bridge_key_hash = s._bridge_key_hash AND t._bridge_batch_uid = $1)",
            batch_uid,
        )
        await driver.execute(f"DROP TABLE {STAGE}")
        found = Upserted()
        for key, inserted in rows:
            (
                found.ours if inserted is None else found.inserted if inserted else found.updated
            ).append(key)
        return found
