"""Reading the outbox: events as they are sent (ScheduleHub records, webhook items) and as
the change feed shows them, each with its mapped row.

An insert or update event names the row version it wrote (uid and data hash, see
:mod:`syncflow.delivery.repository`); its mapped row is read from the target table by
uid while the row still holds that data hash. When it does not (a newer change of the
key rewrote it, or deleted it for good) the event is *superseded*: its data is ``null``
in the feed and it is not sent (the key's newer event carries its state), which is the
"collapse to the key's latest state" the delivery contract allows. A delete event keeps
the row's last mapped values itself.

The mapped row is JSON text made by PostgreSQL (``to_json`` of the mapped columns, instants
in UTC by :func:`~syncflow.delivery.repository.instants_in_utc`), so numerics keep every
digit; the record and the item around it are put together here, around that text
(building them in PostgreSQL with ``jsonb`` functions cost 3 times as much of its CPU:
44 against 15 ms per 4,000 events).
"""

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import orjson

from bridge_core.db.driver import asyncpg_connection
from bridge_core.db.repository import Repository
from syncflow.delivery.loads import OutboxLoads
from syncflow.delivery.repository import instants_in_utc
from syncflow.domain import EntitySpec
from syncflow.pipeline.load import OUTBOX_SCHEMA, OUTBOX_TABLE, quote, target_name

# an event as read (a driver row) or as sent (a dict with its record added)
type Event = Mapping[str, Any] | asyncpg.Record

# parent key hashes as text: the driver's jsonb codec (json.loads per event) was 9% of
# SyncFlow's CPU while delivering a first load, most of it for '{}' (py-spy)
_EVENT = (
    "e.id, e.entity, e.bridge_uid, e.key_hash, e.operation, e.data_hash, e.rowversion, "
    "e.batch_uid, e.parent_key_hashes::text AS parent_key_hashes, e.created_at"
)


def _select(spec: EntitySpec) -> str:
    """The events (``e``) with their mapped rows as JSON text (``data``; NULL when
    superseded), each row found by one probe of its primary key (LATERAL, OFFSET 0: a
    join was planned as a hash join over the whole target for every window of events)."""
    columns = ", ".join(f"t.{quote(f.target_field)}" for f in spec.fields)
    return (
        f"SELECT {_EVENT}, CASE WHEN e.data IS NOT NULL THEN e.data::text "
        "WHEN t._bridge_data_hash = decode(e.data_hash, 'hex') "
        f"THEN (SELECT to_json(m) FROM (SELECT {columns}) AS m)::text END AS data "
        f"FROM {OUTBOX_TABLE} e LEFT JOIN LATERAL (SELECT * FROM {target_name(spec)} r "
        "WHERE e.data IS NULL AND r._bridge_uid = e.bridge_uid OFFSET 0) t ON true "
    )


def parents_of(event: Event) -> dict[str, str]:
    """The event's ``{parent entity: parent key hash}`` (read as JSON text)."""
    parents: str = event["parent_key_hashes"]
    return {} if parents == "{}" else dict(orjson.loads(parents))


def record_of(event: Event, paths: dict[str, str]) -> str | None:
    """The event's ScheduleHub record as JSON text: its mapped row plus ``erp_key_hash``,
    ``erp_data_hash``, ``erp_rowversion``, ``erp_ref_str`` (the row's uid) and
    ``parent_refs`` naming each parent by its path at the destination (``paths``, default
    the entity's name); ``None`` when superseded."""
    data = event["data"]
    if data is None:
        return None
    erp = orjson.dumps(
        {
            "erp_key_hash": event["key_hash"],
            "erp_data_hash": event["data_hash"],
            "erp_rowversion": event["rowversion"],
            "erp_ref_str": str(event["bridge_uid"]),
            "parent_refs": {paths.get(name, name): key for name, key in parents_of(event).items()},
        }
    ).decode()
    mapped = data.rstrip()[:-1].rstrip()  # the object without its closing brace
    return f"{mapped}, {erp[1:]}" if mapped != "{" else erp


def item_of(event: Event) -> str:
    """The event as the webhook and the change feed show it, as JSON text."""
    uid = str(event["bridge_uid"])
    return orjson.dumps(
        {
            "id": event["id"],
            "op": "delete" if event["operation"] == "delete" else "upsert",
            "operation": event["operation"],
            "key_hash": event["key_hash"],
            "uid": uid,
            "data_hash": event["data_hash"],
            "rowversion": event["rowversion"],
            "ref_str": uid,
            "batch_uid": str(event["batch_uid"]),
            "data": None if event["data"] is None else orjson.Fragment(event["data"]),
            "parent_key_hashes": parents_of(event),
            "created_at": event["created_at"].isoformat(),
        }
    ).decode()


class OutboxReads(Repository):
    """The outbox's events with their mapped rows (target database)."""

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        """The rows as the driver gives them, read by name (copying each into a dict cost
        1.3 µs an event)."""
        driver = await asyncpg_connection(self.conn)
        exists = "SELECT to_regclass($1) IS NOT NULL"
        if not await driver.fetchval(exists, f"{OUTBOX_SCHEMA}.outbox_events"):
            return []  # no batch has created the outbox yet
        async with instants_in_utc(driver):
            rows: list[asyncpg.Record] = await driver.fetch(sql, *args)
        return rows

    async def feed(self, spec: EntitySpec, *, after: int, limit: int) -> list[asyncpg.Record]:
        """Up to ``limit`` of the entity's events after ``after``, oldest first, with
        ``data`` as JSON text (``None`` when superseded); its loads expanded first."""
        await OutboxLoads(self.conn).expand(spec.name)
        return await self._fetch(
            f"{_select(spec)} WHERE e.entity = $1 AND e.id > $2 ORDER BY e.id LIMIT $3",
            spec.name,
            after,
            limit,
        )

    async def to_send(
        self, spec: EntitySpec, ids: Sequence[int], *, paths: dict[str, str]
    ) -> dict[int, dict[str, Any]]:
        """Events by id, each with its ScheduleHub ``record`` (:func:`record_of`) and its
        webhook ``item`` (:func:`item_of`)."""
        rows = await self._fetch(f"{_select(spec)} WHERE e.id = ANY($1::bigint[])", list(ids))
        return {
            row["id"]: {**row, "record": record_of(row, paths), "item": item_of(row)}
            for row in rows
        }

    async def window(
        self, spec: EntitySpec, *, after: int, limit: int, paths: dict[str, str]
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` of the entity's events after ``after``, oldest first, each with
        its ScheduleHub ``record`` (:func:`record_of`)."""
        rows = await self.feed(spec, after=after, limit=limit)
        return [{**row, "record": record_of(row, paths)} for row in rows]
