"""The demo, step by step: sample ERP, both services, registration over HTTP, a full sync,
ERP changes, an incremental sync, checks, and the summary.

Everything after the ERP is created goes through the services' public HTTP APIs, the
way a newcomer would do it by hand (see services/syncflow/docs/demo.md).
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from pydantic import ValidationError
from rich.console import Console

from apismith.main import build_app as build_apismith
from bridge_core.http.client import ServiceClientError
from bridge_core.logging import configure_logging
from syncflow.demo import catalog
from syncflow.demo.apismith_admin import ApiSmithAdmin
from syncflow.demo.erp import apply_changes, create_erp
from syncflow.demo.erp_rows import BAD_ROWS, LATE_PARTS, ErpChanges, erp_changes, sample_erp
from syncflow.demo.errors import DemoError
from syncflow.demo.plan import HOST, DemoPlan, demo_plan
from syncflow.demo.report import (
    access_panel,
    batch_problems,
    erp_summary,
    failures_table,
    sync_table,
    verify_table,
)
from syncflow.demo.servers import check_port_free, running_server
from syncflow.demo.syncflow_operator import SyncFlowOperator
from syncflow.main import build_app as build_syncflow
from syncflow.monitoring.schemas import FailedRecordPage
from syncflow.sync.schemas import BatchStatus
from syncflow.verify.schemas import VerifyReport

Step = Callable[[str], None]
FAILURES_SHOWN = 20


@dataclass(frozen=True)
class DemoUrls:
    apismith: str
    syncflow: str


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

    @property
    def ok(self) -> bool:
        """Every batch completed."""
        return all(s.status == "completed" for s in self.first + self.incremental)


@asynccontextmanager
async def running_services(plan: DemoPlan, step: Step) -> AsyncIterator[DemoUrls]:
    """APISmith, then SyncFlow (with its worker), served until the block ends."""
    apismith, syncflow = plan.apismith, plan.syncflow
    step(f"starting APISmith on {apismith.host}:{apismith.port}")
    async with running_server(
        build_apismith(apismith), name="APISmith", host=apismith.host, port=apismith.port
    ) as apismith_url:
        step(f"starting SyncFlow on {syncflow.host}:{syncflow.port}")
        async with running_server(
            build_syncflow(syncflow, run_worker=True),
            name="SyncFlow",
            host=syncflow.host,
            port=syncflow.port,
        ) as syncflow_url:
            yield DemoUrls(apismith=apismith_url, syncflow=syncflow_url)


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
    return DemoReport(
        urls=urls,
        erp_rows=erp_rows,
        changes=changes,
        first=first,
        incremental=incremental,
        verify=verify,
        failures=failures,
    )


def show(report: DemoReport, plan: DemoPlan, console: Console) -> None:
    """Print the summary: ERP, both syncs, checks, bad rows, docs and logins."""
    console.print(erp_summary(report.erp_rows, bad=sum(BAD_ROWS.values()), late=len(LATE_PARTS)))
    console.print()
    console.print(sync_table("first sync (mode full)", report.first))
    console.print()
    console.print(
        sync_table(
            f"incremental sync after {report.changes.total()} ERP changes", report.incremental
        )
    )
    for line in batch_problems(report.first + report.incremental):
        console.print(f"[yellow]note:[/yellow] {line}")
    console.print()
    console.print(verify_table(report.verify))
    console.print()
    console.print(failures_table(report.failures.items, total=report.failures.total))
    console.print()
    console.print(
        access_panel(
            apismith_url=report.urls.apismith,
            syncflow_url=report.urls.syncflow,
            credentials=plan.credentials,
        )
    )


async def run_demo(plan: DemoPlan, *, console: Console, once: bool) -> DemoReport:
    """The whole demo; unless ``once``, the services keep running until cancelled (Ctrl-C)."""
    with console.status("starting") as status:

        def step(text: str) -> None:
            status.update(text)

        async with running_services(plan, step) as urls:
            report = await run_syncs(plan, urls, step)
            status.stop()
            show(report, plan, console)
            if not once:
                console.print("\nBoth services keep running: press [bold]Ctrl-C[/bold] to stop.")
                await asyncio.Event().wait()
    return report


async def _plan_and_run(
    console: Console, *, apismith_port: int, syncflow_port: int, once: bool
) -> DemoReport:
    async with demo_plan(apismith_port=apismith_port, syncflow_port=syncflow_port) as plan:
        return await run_demo(plan, console=console, once=once)


def run_command(console: Console, *, apismith_port: int, syncflow_port: int, once: bool) -> int:
    """``syncflow demo``: the exit status (0 when every batch completed, or on Ctrl-C)."""
    # the tables are the output; the services' own logs would bury them
    configure_logging(service="demo", level="WARNING")
    try:
        if apismith_port == syncflow_port:
            raise DemoError("APISmith and SyncFlow need two different ports")
        check_port_free(HOST, apismith_port, what="APISmith", option="--apismith-port")
        check_port_free(HOST, syncflow_port, what="SyncFlow", option="--syncflow-port")
        report = asyncio.run(
            _plan_and_run(
                console, apismith_port=apismith_port, syncflow_port=syncflow_port, once=once
            )
        )
    except (DemoError, ServiceClientError, ValidationError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    except KeyboardInterrupt:
        console.print("demo stopped")
        return 0
    return 0 if report.ok else 1
