"""What the monitoring endpoints report: failed records, parked children, statistics,
the health of every dependency, and the database snapshot behind the metrics gauges."""

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
from loguru import logger
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.db.transaction import Database
from bridge_core.http.client import ServiceClientError
from bridge_core.secrets import mask_url
from syncflow.apismith_client import ApiSmithClient
from syncflow.delivery import service as delivery_service
from syncflow.delivery.schedulehub import ScheduleHubClient
from syncflow.destinations.repository import DestinationRepository
from syncflow.monitoring.metrics import DatabaseSnapshot
from syncflow.monitoring.repository import MonitoringRepository
from syncflow.monitoring.schemas import (
    ApiSmithCheck,
    DatabaseCheck,
    DeliveryStats,
    DestinationCheck,
    DetailedHealth,
    EntityStats,
    FailedRecord,
    FailedRecordFilter,
    FailedRecordPage,
    PendingChild,
    PendingChildPage,
    Stats,
)
from syncflow.sources.repository import SourceRepository

ACTIVE = ("pending", "running")
# a health check answers quickly: one attempt, short timeout
HEALTH_TIMEOUT_SECONDS = 5.0


async def list_failed_records(
    conn: AsyncConnection, *, filters: FailedRecordFilter, page: int, page_size: int
) -> FailedRecordPage:
    """Failed rows, newest first, with their stage, error and raw data."""
    rows, total = await MonitoringRepository(conn).failed_records(
        filters, page=page, page_size=page_size
    )
    items = [FailedRecord(entity=r["entity_name"], **r) for r in rows]
    return FailedRecordPage(items=items, total=total, page=page, page_size=page_size)


async def dismiss_failed_records(
    conn: AsyncConnection, *, record_uids: Sequence[UUID], by: str
) -> int:
    """Close open failed records without loading them (they are not retried again)."""
    return await MonitoringRepository(conn).dismiss_failures(
        record_uids, by=by, at=datetime.now(UTC)
    )


async def list_pending_children(
    conn: AsyncConnection,
    *,
    entity: str | None,
    parent_entity: str | None,
    page: int,
    page_size: int,
) -> PendingChildPage:
    """Children parked until their parent arrives."""
    rows, total = await MonitoringRepository(conn).pending_children(
        entity=entity, parent_entity=parent_entity, page=page, page_size=page_size
    )
    items = [PendingChild(entity=r["entity_name"], **r) for r in rows]
    return PendingChildPage(items=items, total=total, page=page, page_size=page_size)


async def stats(conn: AsyncConnection, target: AsyncConnection) -> Stats:
    """Batches by status; per entity: last batch, last success, open failures, parked rows;
    per destination and entity with undelivered events: how many, and the lag."""
    repo = MonitoringRepository(conn)
    latest = {b["entity_name"]: b for b in await repo.latest_batches()}
    states = {s["entity_name"]: s for s in await repo.entity_states()}
    failures = await repo.open_failures_by_entity()
    pending = await repo.pending_by_entity()
    next_runs = await repo.next_runs()
    now = datetime.now(UTC)
    names = sorted(set(latest) | set(states) | set(failures) | set(pending) | set(next_runs))
    entities = []
    for name in names:
        batch = latest.get(name)
        success = states.get(name, {}).get("last_success_at")
        entities.append(
            EntityStats(
                entity=name,
                last_batch_uid=batch["uid"] if batch else None,
                last_status=batch["status"] if batch else None,
                last_counters=batch["counters"] if batch else None,
                last_success_at=success,
                seconds_since_success=(now - success).total_seconds() if success else None,
                open_failures=failures.get(name, 0),
                pending_children=pending.get(name, 0),
                **_active(batch),
                next_run_at=next_runs.get(name),
            )
        )
    deliveries = [
        DeliveryStats.model_validate(stream.model_dump())
        for stream in await delivery_service.streams(conn, target)
        if stream.pending + stream.delivering + stream.dead
    ]
    return Stats(batches=await repo.batches_by_status(), entities=entities, deliveries=deliveries)


def _active(batch: dict[str, Any] | None) -> dict[str, Any]:
    """The entity's pending or running batch, with its progress (percent, estimated
    finish, paused until)."""
    if batch is None or batch["status"] not in ACTIVE:
        return {}
    return {
        "active_batch_uid": batch["uid"],
        "active_status": batch["status"],
        "active_progress": batch["progress"] or {},
    }


async def metrics_snapshot(conn: AsyncConnection) -> DatabaseSnapshot:
    """What the database-backed gauges show: every entity, zero where nothing is open."""
    repo = MonitoringRepository(conn)
    names = await repo.entity_names()
    failures = await repo.open_failures_by_entity()
    pending = await repo.pending_by_entity()
    return DatabaseSnapshot(
        batches=await repo.batches_by_entity_status(),
        failed_records={name: failures.get(name, 0) for name in {*names, *failures}},
        pending_children={name: pending.get(name, 0) for name in {*names, *pending}},
        last_success={
            s["entity_name"]: s["last_success_at"]
            for s in await repo.entity_states()
            if s["last_success_at"] is not None
        },
    )


async def _check_database(database: Database) -> DatabaseCheck:
    try:
        latency = await database.ping()
    except Exception as exc:  # any failure means "unreachable" to a monitor
        logger.warning("database health check failed: {}", type(exc).__name__)
        return DatabaseCheck(ok=False, detail=f"unreachable: {type(exc).__name__}")
    return DatabaseCheck(ok=True, latency_ms=round(latency, 2))


async def _check_apismith(name: str, base_url: str) -> ApiSmithCheck:
    shown = mask_url(base_url)
    async with ApiSmithClient(base_url, timeout=HEALTH_TIMEOUT_SECONDS, max_attempts=1) as client:
        start = time.perf_counter()
        try:
            health = await client.health()
        except ServiceClientError as exc:
            return ApiSmithCheck(source=name, base_url=shown, ok=False, detail=str(exc))
    version = health.get("version")
    return ApiSmithCheck(
        source=name,
        base_url=shown,
        ok=health.get("status") == "ok",
        latency_ms=round((time.perf_counter() - start) * 1000, 2),
        version=str(version) if version is not None else None,
    )


async def _check_destination(row: Any) -> DestinationCheck:
    """ScheduleHub: its health answers 2xx. A webhook endpoint: it answers at all (a 405
    to a GET still means it is there)."""
    check = DestinationCheck(
        destination=row["name"],
        kind=row["kind"],
        url=mask_url(row["url"]),
        ok=False,
        paused=row["paused_at"] is not None,
    )
    start = time.perf_counter()
    try:
        if row["kind"] == "schedulehub":
            client = ScheduleHubClient(
                row["url"],
                api_prefix=row["api_prefix"],
                username=None,
                password=None,
                token=None,
                timeout=HEALTH_TIMEOUT_SECONDS,
            )
            try:
                response = await client.health()
            finally:
                await client.aclose()
            check.ok = response.is_success
            if not check.ok:
                check.detail = f"health answered HTTP {response.status_code}"
        else:
            async with httpx.AsyncClient(timeout=HEALTH_TIMEOUT_SECONDS) as http:
                await http.get(row["url"])
            check.ok = True
    except httpx.HTTPError as exc:
        check.detail = f"unreachable: {type(exc).__name__}"
        return check
    check.latency_ms = round((time.perf_counter() - start) * 1000, 2)
    return check


async def detailed_health(*, database: Database, target_database: Database) -> DetailedHealth:
    """Reach SyncFlow's database, the target database, every source's APISmith and every
    enabled destination."""
    own = await _check_database(database)
    target = None if target_database is database else await _check_database(target_database)
    apismith: list[ApiSmithCheck] = []
    destinations: list[DestinationCheck] = []
    if own.ok:
        async with database.transaction() as conn:
            sources = await SourceRepository(conn).list()
            enabled = await DestinationRepository(conn).enabled()
        apismith = list(
            await asyncio.gather(*(_check_apismith(s["name"], s["base_url"]) for s in sources))
        )
        destinations = list(await asyncio.gather(*(_check_destination(d) for d in enabled)))
    healthy = (
        own.ok
        and (target is None or target.ok)
        and all(a.ok for a in apismith)
        and all(d.ok for d in destinations)
    )
    return DetailedHealth(
        status="ok" if healthy else "unhealthy",
        database=own,
        target_database=target,
        apismith=apismith,
        destinations=destinations,
    )
