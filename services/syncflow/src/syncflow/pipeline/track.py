"""Track: the bookkeeping a chunk leaves behind, written in the chunk's transaction.

Batch progress and checkpoint, the entity's cursor and failed records here; parked
children in :mod:`.track_parked`.
"""

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from bridge_core.db.repository import Repository
from bridge_core.ids import new_id
from syncflow.domain import (
    FAILED_RETRY_BASE,
    FAILED_RETRY_CAP,
    Counters,
    RowFailure,
    next_retry_delay,
)
from syncflow.pipeline.track_parked import ParkedRepository, encode_raw, is_any_of
from syncflow.tables import entity_state, failed_records, pending_children, sync_batches


class TrackingRepository(Repository):
    """Our own database's record of what the pipeline did: batch progress, the
    entity's cursor and failed records."""

    async def save_progress(
        self,
        *,
        batch_uid: UUID,
        counters: Counters,
        checkpoint: dict[str, Any] | None,
        progress: dict[str, Any],
        stage_seconds: dict[str, float],
        cursor_end: Any,
        stop_at: datetime | None = None,
    ) -> None:
        """Store the batch's counters and checkpoint (the resume point) after a chunk."""
        await self.conn.execute(
            update(sync_batches)
            .where(sync_batches.c.uid == batch_uid)
            .values(
                counters=counters.as_dict(),
                checkpoint=checkpoint,
                progress=progress,
                stage_seconds={k: round(v, 3) for k, v in stage_seconds.items()},
                cursor_end=cursor_end,
                stop_at=stop_at,
            )
        )

    async def advance_cursor(self, *, entity: str, cursor: Any, batch_uid: UUID) -> None:
        """Move the entity's committed cursor (only ever in the transaction that stored
        the rows)."""
        await self._save_state(entity, cursor=cursor, last_batch_uid=batch_uid)

    async def mark_success(self, *, entity: str, batch_uid: UUID) -> None:
        """Remember when the entity last synced successfully."""
        now = datetime.now(UTC)
        await self._save_state(
            entity, last_success_at=now, last_batch_uid=batch_uid, updated_at=now
        )

    async def _save_state(self, entity: str, **values: Any) -> None:
        """Insert or update the entity's ``entity_state`` row with ``values`` (``updated_at``
        now unless given)."""
        values.setdefault("updated_at", datetime.now(UTC))
        statement = insert(entity_state).values(entity_name=entity, **values)
        await self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=[entity_state.c.entity_name], set_=values
            )
        )

    async def committed_cursor(self, entity: str) -> Any:
        """The entity's committed cursor (``None`` before its first rowversion sync)."""
        return await self.conn.scalar(
            select(entity_state.c.cursor).where(entity_state.c.entity_name == entity)
        )

    async def record_failures(
        self,
        *,
        entity: str,
        batch_uid: UUID,
        failures: Sequence[RowFailure],
        now: datetime,
        max_retries: int,
        retries: Mapping[int, int] | None = None,
        retry_automatically: bool = True,
    ) -> None:
        """Keep every bad row with its stage, error and raw data, and when to retry it.

        ``retries`` maps ``id(raw row)`` to the retries a re-run row has had (a retry batch
        closes the old record and the row's new one carries the count on); a record that
        has had ``max_retries`` (or with ``retry_automatically`` off) is not retried again
        by itself, only by an operator's ``POST /sync/retry-failed``.
        """
        if not failures:
            return
        retries = retries or {}
        ordinals = await self._next_ordinals(entity=entity, batch_uid=batch_uid, failures=failures)
        rows = []
        for failure in failures:
            count = retries.get(id(failure.raw), 0)
            ordinal = 0
            if failure.key_hash is not None:
                ordinal = ordinals[failure.key_hash]
                ordinals[failure.key_hash] += 1
            due = retry_automatically and count < max_retries
            rows.append(
                {
                    "uid": new_id(),
                    "entity_name": entity,
                    "batch_uid": batch_uid,
                    "stage": str(failure.stage),
                    "error": failure.error,
                    "raw_data": encode_raw(failure.raw),
                    "key_hash": failure.key_hash,
                    "ordinal": ordinal,
                    "retry_count": count,
                    "next_retry_at": now
                    + next_retry_delay(count, base=FAILED_RETRY_BASE, cap=FAILED_RETRY_CAP)
                    if due
                    else None,
                    "resolved_at": None,
                    "created_at": datetime.now(UTC),
                }
            )
        statement = insert(failed_records)
        await self.conn.execute(
            # a row that fails again updates its open record instead of adding another
            statement.on_conflict_do_update(
                index_elements=[
                    failed_records.c.entity_name,
                    failed_records.c.key_hash,
                    failed_records.c.ordinal,
                ],
                index_where=failed_records.c.resolved_at.is_(None)
                & failed_records.c.key_hash.isnot(None),
                set_={
                    "batch_uid": statement.excluded.batch_uid,
                    "stage": statement.excluded.stage,
                    "error": statement.excluded.error,
                    "raw_data": statement.excluded.raw_data,
                    "retry_count": failed_records.c.retry_count + 1,
                },
            ),
            rows,
        )

    async def _next_ordinals(
        self, *, entity: str, batch_uid: UUID, failures: Sequence[RowFailure]
    ) -> dict[str, int]:
        """Per key hash of ``failures``: how many of its rows this batch has recorded
        already (earlier chunks). A failed record is a row read, not a key, so two bad rows
        of one batch that share a key hash get records 0 and 1; in the next batch the same
        rows fail again into the same two records instead of adding two more."""
        keys = sorted({f.key_hash for f in failures if f.key_hash is not None})
        if not keys:
            return {}
        result = await self.conn.execute(
            select(failed_records.c.key_hash, func.count())
            .where(
                failed_records.c.entity_name == entity,
                failed_records.c.batch_uid == batch_uid,
                failed_records.c.resolved_at.is_(None),
                is_any_of(failed_records.c.key_hash, keys),
            )
            .group_by(failed_records.c.key_hash)
        )
        recorded: dict[str, int] = dict.fromkeys(keys, 0)
        recorded.update((key, count) for key, count in result)
        return recorded

    async def settle(
        self, *, entity: str, key_hashes: Sequence[str] | Callable[[], Sequence[str]]
    ) -> None:
        """Rows of ``entity`` that went through: their parked copies are dropped and their
        open failures closed. Both tables are usually empty for the entity, so one
        ``EXISTS`` query first spares the two statements that carry every key (given as
        a function, the keys are only made when they are needed)."""
        if not callable(key_hashes) and not key_hashes:
            return
        parked = select(pending_children.c.uid).where(pending_children.c.entity_name == entity)
        failed = select(failed_records.c.uid).where(
            failed_records.c.entity_name == entity, failed_records.c.resolved_at.is_(None)
        )
        any_parked, any_failed = (
            await self.conn.execute(select(parked.exists(), failed.exists()))
        ).one()
        if not (any_parked or any_failed):
            return
        keys = key_hashes() if callable(key_hashes) else key_hashes
        if any_parked:
            await ParkedRepository(self.conn).unpark_children(entity=entity, key_hashes=keys)
        if any_failed:
            await self._resolve_failures(entity=entity, key_hashes=keys)

    async def _resolve_failures(self, *, entity: str, key_hashes: Sequence[str]) -> None:
        """Close the open failures of rows that have now gone through."""
        if key_hashes:
            await self.conn.execute(
                update(failed_records)
                .where(
                    failed_records.c.entity_name == entity,
                    is_any_of(failed_records.c.key_hash, key_hashes),
                    failed_records.c.resolved_at.is_(None),
                )
                .values(resolved_at=datetime.now(UTC))
            )

    async def close_failures(self, uids: Sequence[UUID]) -> None:
        """Close failed records that a retry has taken up (it records new failures itself)."""
        if uids:
            await self.conn.execute(
                update(failed_records)
                .where(failed_records.c.uid.in_(list(uids)))
                .values(resolved_at=datetime.now(UTC))
            )

    async def open_failures(
        self,
        *,
        entity: str,
        created_before: datetime,
        limit: int,
        due_at: datetime | None = None,
        uids: Sequence[UUID] | None = None,
    ) -> list[dict[str, Any]]:
        """The oldest open failed records of ``entity`` from before ``created_before`` (only
        those whose automatic retry is due at ``due_at``, and only ``uids``, when given)."""
        query = select(
            failed_records.c.uid, failed_records.c.raw_data, failed_records.c.retry_count
        )
        query = query.where(
            failed_records.c.entity_name == entity,
            failed_records.c.resolved_at.is_(None),
            failed_records.c.created_at < created_before,
        )
        if due_at is not None:
            query = query.where(failed_records.c.next_retry_at <= due_at)
        if uids is not None:
            query = query.where(failed_records.c.uid.in_(list(uids)))
        result = await self.conn.execute(query.order_by(failed_records.c.created_at).limit(limit))
        return [dict(row._mapping) for row in result]
