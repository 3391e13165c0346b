"""The demo, step by step: both services and the ScheduleHub stand-in, the sample ERP,
registration over HTTP (a ScheduleHub destination too), a full sync, ERP changes, an
incremental sync, the checks afterwards, and every change delivered to ScheduleHub.

Everything after the ERP is created goes through the services' public HTTP APIs, the
way a newcomer would do it by hand (see services/syncflow/docs/demo.md).
"""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from apismith.main import build_app as build_apismith
from bridge_demo import catalog
from bridge_demo.apismith_admin import ApiSmithAdmin
from bridge_demo.erp import apply_changes, create_erp
from bridge_demo.erp_rows import ErpChanges, erp_changes, sample_erp
from bridge_demo.plan import DemoPlan
from bridge_demo.servers import running_server
from bridge_demo.syncflow_operator import SyncFlowOperator
from schedulehub_standin.main import build_app as build_schedulehub
from syncflow.main import build_app as build_syncflow
from syncflow.monitoring.schemas import FailedRecordPage
from syncflow.sync.schemas import BatchStatus
from syncflow.verify.schemas import VerifyReport

Step = Callable[[str], None]
FAILURES_SHOWN = 20
DESTINATION = "schedulehub"
DELIVERY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class DemoUrls:
    """The base URLs the services answer on."""

    apismith: str
    syncflow: str
    schedulehub: str


@dataclass(frozen=True)
class Delivered:
    """What reached ScheduleHub: its live records per entity, dead letters, and how long
    the outbox took to drain after the last sync."""

    records: dict[str, int]
    dead: int
    seconds: float


@dataclass
class DemoReport:
    """What the demo did and saw."""

    urls: DemoUrls
    erp_rows: dict[str, int]
    changes: ErpChanges
    first: list[BatchStatus]
    incremental: list[BatchStatus]
    verify: list[VerifyReport]
    failures: FailedRecordPage
    pending_children: int
    delivered: Delivered

    @property
    def ok(self) -> bool:
        """Every batch completed and every change reached ScheduleHub."""
        return self.delivered.dead == 0 and all(
            s.status == "completed" for s in self.first + self.incremental
        )


@asynccontextmanager
async def running_services(plan: DemoPlan, step: Step) -> AsyncIterator[DemoUrls]:
    """APISmith, the ScheduleHub stand-in, then SyncFlow (with its worker), served until
    the block ends."""
    apismith, syncflow, schedulehub = plan.apismith, plan.syncflow, plan.schedulehub
    step(f"starting APISmith on {apismith.host}:{apismith.port}")
    async with running_server(
        build_apismith(apismith), name="APISmith", host=apismith.host, port=apismith.port
    ) as apismith_url:
        step(f"starting the ScheduleHub stand-in on {schedulehub.host}:{schedulehub.port}")
        async with running_server(
            build_schedulehub(schedulehub),
            name="ScheduleHub stand-in",
            host=schedulehub.host,
            port=schedulehub.port,
        ) as schedulehub_url:
            step(f"starting SyncFlow on {syncflow.host}:{syncflow.port}")
            async with running_server(
                build_syncflow(syncflow, run_worker=True),
                name="SyncFlow",
                host=syncflow.host,
                port=syncflow.port,
            ) as syncflow_url:
                yield DemoUrls(
                    apismith=apismith_url, syncflow=syncflow_url, schedulehub=schedulehub_url
                )


async def register(plan: DemoPlan, urls: DemoUrls, step: Step) -> None:
    """The ERP connection, APIs and a reader token in APISmith; source and entities in SyncFlow."""
    credentials = plan.credentials
    step("registering the ERP connection and its APIs in APISmith")
    async with ApiSmithAdmin(urls.apismith) as admin:
        await admin.login(username=credentials.admin_username, password=credentials.admin_password)
        connection = await admin.create_connection(
            name=catalog.CONNECTION_NAME,
            dialect="postgresql",
            url=plan.erp_url.set(drivername="postgresql").render_as_string(hide_password=False),
        )
        for api in catalog.APIS:
            await admin.create_api(connection_uid=connection, body=api)
        service_token = await admin.create_service_token(
            name=catalog.SERVICE_TOKEN_NAME, role="reader"
        )
    step("registering APISmith as a source and the entities in SyncFlow")
    async with SyncFlowOperator(urls.syncflow, token=credentials.operator_token) as operator:
        await operator.create_source(
            name=catalog.SOURCE_NAME, base_url=urls.apismith, token=service_token
        )
        for entity in catalog.ENTITIES:
            await operator.create_entity(source=catalog.SOURCE_NAME, body=entity)
        step("registering the ScheduleHub stand-in as a destination of every entity")
        await operator.create_destination(
            name=DESTINATION,
            url=urls.schedulehub,
            username=plan.schedulehub.username,
            password=credentials.schedulehub_password,
        )


async def wait_delivered(operator: SyncFlowOperator, schedulehub_url: str, step: Step) -> Delivered:
    """Wait until no event is pending or on its way, then count what ScheduleHub holds."""
    step("delivering the changes to ScheduleHub")
    start = time.monotonic()
    async with asyncio.timeout(DELIVERY_TIMEOUT_S):
        while True:
            waiting = await operator.deliveries(state="pending")
            waiting += await operator.deliveries(state="delivering")
            if not waiting:
                break
            await asyncio.sleep(0.2)
    seconds = time.monotonic() - start
    async with httpx.AsyncClient(base_url=schedulehub_url, timeout=30) as client:
        response = await client.get("/_control/state")
        response.raise_for_status()
        counts = response.json()["records"]
    return Delivered(
        records={entity: counts.get(entity, {}).get("live", 0) for entity in catalog.ENTITY_NAMES},
        dead=await operator.deliveries(state="dead"),
        seconds=seconds,
    )


async def sync_all(operator: SyncFlowOperator, *, mode: str, step: Step) -> list[BatchStatus]:
    """Sync every entity once, parents first."""
    statuses = []
    for entity in catalog.ENTITY_NAMES:
        step(f"{mode} sync: {entity}")
        statuses.append(await operator.sync(entity=entity, mode=mode))
    return statuses


async def run_syncs(plan: DemoPlan, urls: DemoUrls, step: Step) -> DemoReport:
    """Create the ERP, register everything, sync, change the ERP, sync again, verify."""
    step("creating the sample ERP database")
    erp = sample_erp()
    erp_rows = await create_erp(plan.erp_url, erp)
    await register(plan, urls, step)
    changes = erp_changes(erp)
    async with SyncFlowOperator(urls.syncflow, token=plan.credentials.operator_token) as operator:
        first = await sync_all(operator, mode="full", step=step)
        step(f"changing {changes.total()} ERP rows")
        await apply_changes(plan.erp_url, changes)
        incremental = await sync_all(operator, mode="incremental", step=step)
        step("verifying the target tables against the ERP")
        verify = [await operator.verify(entity=name) for name in catalog.ENTITY_NAMES]
        failures = await operator.failed_records(page_size=FAILURES_SHOWN)
        waiting = await operator.pending_children()
        delivered = await wait_delivered(operator, urls.schedulehub, step)
    return DemoReport(
        urls=urls,
        erp_rows=erp_rows,
        changes=changes,
        first=first,
        incremental=incremental,
        verify=verify,
        failures=failures,
        pending_children=waiting,
        delivered=delivered,
    )
