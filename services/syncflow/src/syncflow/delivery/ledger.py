"""All SQL on deliveries (one outbox event on its way to one destination) and attempts.

The worker holding a stream's lease (:mod:`syncflow.delivery.streams`) copies new outbox
events into ``deliveries`` (the stream's ``cursor`` remembers how far), forms batches,
sends them and records each outcome, fenced by the lease. Several batches of a stream
may be out at once: a key in one keeps it out of the others (below).

Order per key: a batch takes a key only when every undelivered event of that key is
pending and in no batch yet, and then takes all of them (``form_batch``). A key with an
event in flight, waiting for a retry, or dead-lettered therefore waits, while other keys
go on. A child event also waits while one of its parents' keys has an undelivered event
at the same destination (parents before children).
"""

import json
from datetime import datetime
from operator import itemgetter
from typing import Any
from uuid import UUID

from sqlalchemy import ARRAY, BigInteger, any_, cast, func, insert, select, text, update

from bridge_core.db.driver import asyncpg_connection
from bridge_core.db.repository import Repository
from bridge_core.ids import new_id_texts
from syncflow.tables import (
    deliveries,
    delivery_attempts,
    delivery_streams,
)

# windows of unbatched events one batch formation reads at most (of 2 x batch_size each)
_MAX_WINDOWS = 10


# events copied at once from which the ledger's statistics are taken again
ANALYZE_AFTER = 2_000
# a batch that failed and waits for its retry: the predicate of ix_deliveries_retry, as
# literals, so that every plan may use that partial index (a look for due retries in
# event id order otherwise walked every delivered event of the stream: 0.3 s at 150,000)
_WAITING_FOR_RETRY = "deliveries.state = 'pending' AND deliveries.batch_uid IS NOT NULL"


def _json_text(value: Any) -> str:
    """A JSON document as text (the outbox's jsonb comes decoded or as text)."""
    return value if isinstance(value, str) else json.dumps(value)


def _by_event_id(result: Any) -> list[dict[str, Any]]:
    """Deliveries an ``UPDATE ... RETURNING`` changed, oldest event first."""
    return sorted((dict(row) for row in result.mappings()), key=itemgetter("event_id"))


def _open_events(alias: str) -> str:
    """The undelivered events of the keys in ``:keys`` (destination ``:d``, entity ``:e``),
    probed key by key through the open-key index. ``OFFSET 0`` keeps the planner from
    folding the probe into a scan of every pending event (it did, on statistics taken
    while the table was small: 25 s for a batch of 1,000 keys at 200,000 pending events,
    9 ms this way)."""
    return (
        "unnest(CAST(:keys AS text[])) AS k(key_hash) CROSS JOIN LATERAL "
        "(SELECT * FROM deliveries WHERE destination_uid = :d AND entity_name = :e "
        f"AND key_hash = k.key_hash AND state <> 'delivered' OFFSET 0) AS {alias}"
    )


class DeliveryLedger(Repository):
    """Deliveries and attempts in SyncFlow's own database."""

    # --- deliveries ---------------------------------------------------------------------

    async def add_events(
        self,
        destination_uid: UUID,
        entity: str,
        *,
        events: list[dict[str, Any]],
        now: datetime,
    ) -> None:
        """Copy outbox events into pending deliveries and move the stream's cursor past them
        (one transaction: a crash copies them again, and the unique event id keeps one)."""
        if not events:
            return
        await self.insert_events(destination_uid, entity, events=events, now=now)
        await self.move_cursor(destination_uid, entity, to=events[-1]["id"], now=now)

    async def insert_events(
        self,
        destination_uid: UUID,
        entity: str,
        *,
        events: list[dict[str, Any]],
        now: datetime,
        batch_uid: UUID | None = None,
    ) -> None:
        """Outbox events as deliveries: pending, or (``batch_uid``) delivering in that
        batch, first attempted ``now`` (a batch sent straight from the outbox whose
        outcome must be tracked); an event the ledger holds already is left as it is."""
        if not events:
            return
        # one set-based statement (per-row parameters through SQLAlchemy's executemany
        # were a quarter of the delivery worker's CPU)
        driver = await asyncpg_connection(self.conn)
        await driver.execute(
            "INSERT INTO deliveries (uid, destination_uid, entity_name, event_id, key_hash, "
            "bridge_uid, operation, data_hash, parent_key_hashes, state, attempts, "
            "next_attempt_at, event_created_at, updated_at, batch_uid, first_attempt_at) "
            "SELECT t.uid, $1, $2, t.event_id, t.key_hash, t.bridge_uid, t.operation, "
            "t.data_hash, t.parents::jsonb, "
            "CASE WHEN $12::uuid IS NULL THEN 'pending' ELSE 'delivering' END, 0, "
            "$3::timestamptz, t.created_at, $3::timestamptz, $12::uuid, "
            "CASE WHEN $12::uuid IS NOT NULL THEN $3::timestamptz END "
            "FROM unnest($4::uuid[], $5::bigint[], $6::text[], $7::uuid[], $8::text[], "
            "$9::text[], $10::text[], $11::timestamptz[]) "
            "AS t(uid, event_id, key_hash, bridge_uid, operation, data_hash, parents, created_at) "
            "ON CONFLICT DO NOTHING",
            destination_uid,
            entity,
            now,
            new_id_texts(len(events)),
            [event["id"] for event in events],
            [event["key_hash"] for event in events],
            [event["bridge_uid"] for event in events],
            [event["operation"] for event in events],
            [event["data_hash"] for event in events],
            [_json_text(event["parent_key_hashes"]) for event in events],
            [event["created_at"] for event in events],
            batch_uid,
        )
        if len(events) >= ANALYZE_AFTER and await self._statistics_stale(added=len(events)):
            # a backlog grows by thousands of events a second, faster than autovacuum
            # looks: plans made on the statistics of a small table probe every pending
            # event per key (minutes per batch); fresh statistics keep them on the key index
            await self.conn.execute(text("ANALYZE deliveries"))

    async def move_cursor(
        self, destination_uid: UUID, entity: str, *, to: int, now: datetime
    ) -> None:
        """The stream has read the outbox up to event ``to``."""
        await self.conn.execute(
            update(delivery_streams)
            .where(
                delivery_streams.c.destination_uid == destination_uid,
                delivery_streams.c.entity_name == entity,
            )
            .values(cursor=to, updated_at=now)
        )

    async def open_keys(self, destination_uid: UUID, entity: str, *, limit: int) -> set[str] | None:
        """The keys with an undelivered event (pending, in flight or dead), through the
        open-key index; ``None`` when there are more than ``limit``."""
        rows = await self.conn.execute(
            text(
                "SELECT DISTINCT key_hash FROM deliveries WHERE destination_uid = :d "
                "AND entity_name = :e AND state <> 'delivered' LIMIT :limit"
            ),
            {"d": destination_uid, "e": entity, "limit": limit + 1},
        )
        keys = set(rows.scalars())
        return None if len(keys) > limit else keys

    async def _statistics_stale(self, *, added: int) -> bool:
        """Whether the ledger changed by more rows since its last ANALYZE than the planner
        believes it holds, counting the ``added`` rows of this transaction (the statistics
        views see a transaction's changes only after it ends): statistics at most about
        half wrong, and an ANALYZE (0.2-0.3 s at 300,000 events) each time the table
        doubles instead of on every copy."""
        stale = await self.conn.scalar(
            text(
                "SELECT s.n_mod_since_analyze + :added > greatest(c.reltuples, :floor) "
                "FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid "
                "WHERE c.oid = 'deliveries'::regclass"
            ),
            {"added": added, "floor": ANALYZE_AFTER},
        )
        return bool(stale)

    async def resume_interrupted(self, destination_uid: UUID, entity: str, *, now: datetime) -> int:
        """Events left ``delivering`` by a worker that died: pending again, due now (their
        batch is sent again as it was)."""
        result = await self.conn.execute(
            update(deliveries)
            .where(
                deliveries.c.destination_uid == destination_uid,
                deliveries.c.entity_name == entity,
                deliveries.c.state == "delivering",
            )
            .values(state="pending", next_attempt_at=now, updated_at=now)
        )
        return int(result.rowcount)

    async def due_batch(self, destination_uid: UUID, entity: str, *, now: datetime) -> UUID | None:
        """The oldest batch waiting for a retry that is due."""
        return await self.conn.scalar(
            select(deliveries.c.batch_uid)
            .where(
                deliveries.c.destination_uid == destination_uid,
                deliveries.c.entity_name == entity,
                text(_WAITING_FOR_RETRY),
                deliveries.c.next_attempt_at <= now,
            )
            .order_by(deliveries.c.event_id)
            .limit(1)
        )

    async def form_batch(
        self, destination_uid: UUID, entity: str, *, keys: int, batch_uid: UUID, now: datetime
    ) -> list[dict[str, Any]]:
        """Put up to ``keys`` keys, oldest first, into a new batch and start it: keys whose
        undelivered events are all pending and unbatched, and whose parents have no
        undelivered event here (see the module doc); its events by id, ``delivering``
        (batched and started by one ``UPDATE``: each is one row version fewer than
        batching then starting, of four an event is written as).

        The oldest unbatched events are read a window at a time (keyset on the event id)
        and their keys checked with one set-based query each, so the cost grows with the
        batch, not with the backlog, with or without table statistics."""
        chosen: list[str] = []
        after = 0
        for _ in range(_MAX_WINDOWS):
            window = (
                await self.conn.execute(
                    text(
                        "SELECT key_hash, event_id FROM deliveries "
                        "WHERE destination_uid = :d AND entity_name = :e AND state = 'pending' "
                        "AND batch_uid IS NULL AND event_id > :after "
                        "ORDER BY event_id LIMIT :scan"
                    ),
                    {"d": destination_uid, "e": entity, "after": after, "scan": keys * 2},
                )
            ).all()
            if not window:
                break
            after = window[-1].event_id
            taken = set(chosen)
            candidates = [
                k for k in dict.fromkeys(row.key_hash for row in window) if k not in taken
            ]
            blocked = await self._blocked(destination_uid, entity, candidates)
            chosen += [key for key in candidates if key not in blocked][: keys - len(chosen)]
            if len(chosen) >= keys or len(window) < keys * 2:
                break
        if not chosen:
            return []
        rows = await self.conn.execute(
            update(deliveries)
            .where(
                deliveries.c.uid.in_(
                    text(
                        f"SELECT o.uid FROM {_open_events('o')} "
                        "WHERE o.state = 'pending' AND o.batch_uid IS NULL"
                    ).columns(deliveries.c.uid)
                )
            )
            .values(
                batch_uid=batch_uid,
                state="delivering",
                first_attempt_at=func.coalesce(deliveries.c.first_attempt_at, now),
                updated_at=now,
            )
            .returning(*deliveries.c),
            {"d": destination_uid, "e": entity, "keys": chosen},
        )
        return _by_event_id(rows)

    async def _blocked(self, destination_uid: UUID, entity: str, keys: list[str]) -> set[str]:
        """Which of ``keys`` must wait: an undelivered event of theirs is in flight, waits
        for a retry or is dead, or one of their parents' keys has an undelivered event."""
        if not keys:
            return set()
        rows = await self.conn.execute(
            text(
                f"SELECT o.key_hash FROM {_open_events('o')} "
                "WHERE o.state <> 'pending' OR o.batch_uid IS NOT NULL "
                "UNION "
                f"SELECT c.key_hash FROM {_open_events('c')} "
                "CROSS JOIN LATERAL jsonb_each_text(c.parent_key_hashes) p "
                "JOIN deliveries pd ON pd.destination_uid = :d AND pd.entity_name = p.key "
                "AND pd.key_hash = p.value AND pd.state IN ('pending', 'delivering') "
                "WHERE c.state = 'pending' AND c.batch_uid IS NULL "
                "AND c.parent_key_hashes <> '{}'::jsonb"
            ),
            {"d": destination_uid, "e": entity, "keys": keys},
        )
        return set(rows.scalars())

    async def start_batch(self, batch_uid: UUID, *, now: datetime) -> list[dict[str, Any]]:
        """Mark the batch's pending events ``delivering``; its events by id."""
        rows = await self.conn.execute(
            update(deliveries)
            .where(deliveries.c.batch_uid == batch_uid, deliveries.c.state == "pending")
            .values(
                state="delivering",
                first_attempt_at=func.coalesce(deliveries.c.first_attempt_at, now),
                updated_at=now,
            )
            .returning(*deliveries.c)
        )
        return _by_event_id(rows)

    async def set_state(
        self,
        event_ids: list[int],
        *,
        destination_uid: UUID,
        state: str,
        now: datetime,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
        count_attempt: bool = True,
    ) -> None:
        """Record a batch's outcome for some of its events."""
        if not event_ids:
            return
        values: dict[str, Any] = {"state": state, "updated_at": now}
        if count_attempt:
            values["attempts"] = deliveries.c.attempts + 1
        if state == "delivered":
            values["delivered_at"] = now
            values["last_error"] = None
        if error is not None:
            values["last_error"] = error
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        await self.conn.execute(
            update(deliveries)
            .where(
                deliveries.c.destination_uid == destination_uid,
                # one array parameter: one statement text whatever the batch's size (an
                # IN list of 1,000 bind parameters was compiled again for every batch)
                deliveries.c.event_id == any_(cast(event_ids, ARRAY(BigInteger))),
                deliveries.c.state == "delivering",
            )
            .values(values)
        )

    async def add_attempts(self, attempts: list[dict[str, Any]]) -> None:
        if attempts:
            await self.conn.execute(insert(delivery_attempts), attempts)

    async def next_due(self, destination_uid: UUID, entity: str) -> datetime | None:
        """When the stream's earliest waiting retry is due (none: nothing waits)."""
        due: datetime | None = await self.conn.scalar(
            select(func.min(deliveries.c.next_attempt_at)).where(
                deliveries.c.destination_uid == destination_uid,
                deliveries.c.entity_name == entity,
                text(_WAITING_FOR_RETRY),
            )
        )
        return due
