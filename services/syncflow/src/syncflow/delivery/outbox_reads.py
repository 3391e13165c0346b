"""Reading the outbox: events as they are sent (ScheduleHub records, webhook items) and as
the change feed shows them, each with its mapped row.

An insert or update event names the row version it wrote (uid and data hash, see
:mod:`syncflow.delivery.repository`); its mapped row is read from the target table by
uid while the row still holds that data hash. When it does not (a newer change of the
key rewrote it, or deleted it for good) the event is *superseded*: its data is ``null``
in the feed and it is not sent (the key's newer event carries its state), which is the
"collapse to the key's latest state" the delivery contract allows. A delete event keeps
the row's last mapped values itself.

Every JSON text here is made by PostgreSQL, so numerics keep every digit, with instants
in UTC (:func:`~syncflow.delivery.repository.instants_in_utc`).
"""

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from bridge_core.db.driver import asyncpg_connection
from bridge_core.db.repository import Repository
from syncflow.delivery.repository import (
    OUTBOX_SCHEMA,
    OUTBOX_TABLE,
    hidden_columns,
    instants_in_utc,
)
from syncflow.domain import EntitySpec
from syncflow.pipeline.load import target_name

# $1: the target's hidden (SyncFlow's) columns; the event is ``e``, its row ``t``, and
# ``d.data`` its mapped row (NULL: superseded)
_FROM = (
    # LATERAL and OFFSET 0: one probe of the row's primary key per event (a join was
    # planned as a hash join over the whole target, for every window of events: 40 µs
    # an event at 300,000 rows)
    "{outbox} e LEFT JOIN LATERAL (SELECT * FROM {table} r WHERE e.data IS NULL "
    "AND r._bridge_uid = e.bridge_uid OFFSET 0) t ON true "
    "CROSS JOIN LATERAL (SELECT COALESCE(e.data, CASE WHEN t._bridge_data_hash = "
    "decode(e.data_hash, 'hex') THEN to_jsonb(t) - $1::text[] END) AS data) d"
)
_EVENT = (
    "e.id, e.entity, e.bridge_uid, e.key_hash, e.operation, e.data_hash, e.rowversion, "
    "e.batch_uid, e.parent_key_hashes, e.created_at"
)
# the ScheduleHub record ($2: the entity paths at the destination, as a JSON object):
# the mapped row, erp_* fields and parent_refs named by the parents' paths
_RECORD = (
    "(d.data || jsonb_build_object('erp_key_hash', e.key_hash, 'erp_data_hash', e.data_hash, "
    "'erp_rowversion', e.rowversion, 'erp_ref_str', e.bridge_uid::text, "
    "'parent_refs', COALESCE((SELECT jsonb_object_agg(COALESCE($2::jsonb ->> p.key, "
    "p.key), p.value) FROM jsonb_each(e.parent_key_hashes) p), '{}'::jsonb)))::text AS record"
)
# the webhook's and the feed's item
_ITEM = (
    "jsonb_build_object('id', e.id, "
    "'op', CASE WHEN e.operation = 'delete' THEN 'delete' ELSE 'upsert' END, "
    "'operation', e.operation, 'key_hash', e.key_hash, 'uid', e.bridge_uid, "
    "'data_hash', e.data_hash, 'rowversion', e.rowversion, 'ref_str', e.bridge_uid::text, "
    "'batch_uid', e.batch_uid, 'data', d.data, 'parent_key_hashes', e.parent_key_hashes, "
    "'created_at', e.created_at)::text AS item"
)


def _from(spec: EntitySpec) -> str:
    return _FROM.format(outbox=OUTBOX_TABLE, table=target_name(spec))


class OutboxReads(Repository):
    """The outbox's events with their mapped rows (target database)."""

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        driver = await asyncpg_connection(self.conn)
        exists = "SELECT to_regclass($1) IS NOT NULL"
        if not await driver.fetchval(exists, f"{OUTBOX_SCHEMA}.outbox_events"):
            return []  # no batch has created the outbox yet
        async with instants_in_utc(driver):
            return list(await driver.fetch(sql, *args))

    async def feed(self, spec: EntitySpec, *, after: int, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` of the entity's events after ``after``, oldest first, with
        ``data`` (``None`` when superseded)."""
        rows = await self._fetch(
            f"SELECT {_EVENT}, d.data FROM {_from(spec)} "
            "WHERE e.entity = $2 AND e.id > $3 ORDER BY e.id LIMIT $4",
            hidden_columns(spec),
            spec.name,
            after,
            limit,
        )
        return [dict(row) for row in rows]

    async def to_send(
        self, spec: EntitySpec, ids: Sequence[int], *, paths: dict[str, str]
    ) -> dict[int, dict[str, Any]]:
        """Events by id, each with its ScheduleHub ``record`` and its webhook ``item``
        (JSON text; ``record`` NULL when superseded). A record's ``parent_refs`` name each
        parent by its path at the destination (``paths``, default the entity's name)."""
        rows = await self._fetch(
            f"SELECT {_EVENT}, {_RECORD}, {_ITEM} FROM {_from(spec)} "
            "WHERE e.id = ANY($3::bigint[])",
            hidden_columns(spec),
            json.dumps(paths),
            list(ids),
        )
        return {row["id"]: dict(row) for row in rows}

    async def window(
        self, spec: EntitySpec, *, after: int, limit: int, paths: dict[str, str]
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` of the entity's events after ``after``, oldest first, each with
        its ScheduleHub ``record`` as :meth:`to_send` makes it."""
        rows = await self._fetch(
            f"SELECT {_EVENT}, {_RECORD} FROM {_from(spec)} "
            "WHERE e.entity = $3 AND e.id > $4 ORDER BY e.id LIMIT $5",
            hidden_columns(spec),
            json.dumps(paths),
            spec.name,
            after,
            limit,
        )
        return [dict(row) for row in rows]
