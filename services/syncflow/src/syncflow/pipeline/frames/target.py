"""The target writes and reads of the column lane's rows: binary COPY, and one query that
sorts a chunk's keys into new, unchanged and the rest.

Like :class:`~syncflow.pipeline.load.TargetRepository`, everything runs on the
connection it is given, inside the chunk's transaction.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from bridge_core.db.driver import asyncpg_connection
from bridge_core.db.repository import Repository
from syncflow.domain import EntitySpec
from syncflow.pipeline.frames.known import KnownRows, KnownRowsParser
from syncflow.pipeline.load import (
    WORK_SCHEMA,
    copy_columns,
    merge,
    seen_name,
    seen_table,
    target_name,
)

_KEYS = "_bridge_keys"


@dataclass(slots=True)
class SortedKeys:
    """A chunk's rows by what the target holds for their keys (positions): ``new`` keys,
    keys ``changed`` since an earlier batch wrote them (or soft-deleted), and keys this
    batch wrote itself in an earlier chunk (``ours``: the row-wise delta decides)."""

    new: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    ours: list[int] = field(default_factory=list)


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
        (:mod:`.known`): at most ``limit`` of them, those the scan meets first (the
        others are left to the target); ``None`` with a ``limit`` of 0."""
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
            "AND _bridge_batch_uid IS DISTINCT FROM $1 LIMIT $2",
            batch_uid,
            limit,
            output=parser.feed,
            format="binary",
        )
        return parser.rows()

    async def mark_seen(self, batch_uid: UUID, payload: bytes) -> None:
        """Remember the keys batch ``batch_uid`` read (``copy_binary.seen_payload``), for
        its deletes."""
        driver = await asyncpg_connection(self.conn)
        await driver.copy_to_table(
            seen_name(batch_uid),
            schema_name=WORK_SCHEMA,
            source=memoryview(payload),
            columns=["key_hash"],
            format="binary",
        )

    async def merge(self, spec: EntitySpec, payload: bytes) -> None:
        """Update the target rows of ``payload``'s keys (binary COPY rows of every
        column, ``copy_binary.rows_payload``): data, hashes, rowversion, batch and
        update time; soft-deleted rows come back. Their uid and creation time stay."""
        await merge(await asyncpg_connection(self.conn), spec, payload, binary=True)

    async def sort_keys(
        self, spec: EntitySpec, payload: bytes, *, batch_uid: UUID, seen: bool
    ) -> SortedKeys:
        """The positions of ``payload``'s rows (``copy_binary.keys_payload``) by what the
        target holds for their keys. Plainly unchanged rows (the key live, with the same
        data hash, written by an earlier batch) are not returned, only counted by the
        caller. With ``seen``, the keys are also remembered as read by the batch."""
        driver = await asyncpg_connection(self.conn)
        await driver.execute(
            f"CREATE TEMP TABLE {_KEYS} (key_hash uuid, data_hash bytea, position bigint) "
            "ON COMMIT DROP"
        )
        await driver.copy_to_table(
            _KEYS,
            source=memoryview(payload),
            columns=["key_hash", "data_hash", "position"],
            format="binary",
        )
        # a LATERAL probe per key: the planner cannot pick a scan of the whole target
        rows: Sequence[asyncpg.Record] = await driver.fetch(
            f"SELECT k.position, CASE WHEN x.key_hash IS NULL THEN 'new' "
            f"WHEN x.batch_uid = $1 THEN 'ours' ELSE 'changed' END FROM {_KEYS} k "
            "LEFT JOIN LATERAL "
            f"(SELECT t._bridge_key_hash AS key_hash, t._bridge_data_hash AS data_hash, "
            f"t._bridge_batch_uid AS batch_uid, t._bridge_deleted_at AS deleted_at "
            f"FROM {target_name(spec)} t WHERE t._bridge_key_hash = k.key_hash) x ON TRUE "
            f"WHERE x.key_hash IS NULL OR x.data_hash IS DISTINCT FROM k.data_hash "
            f"OR x.deleted_at IS NOT NULL OR x.batch_uid = $1",
            batch_uid,
        )
        if seen:
            await driver.execute(
                f"INSERT INTO {seen_table(batch_uid)} (key_hash) SELECT key_hash FROM {_KEYS}"
            )
        await driver.execute(f"DROP TABLE {_KEYS}")
        found = SortedKeys()
        for position, kind in rows:
            getattr(found, kind).append(position)
        return found
