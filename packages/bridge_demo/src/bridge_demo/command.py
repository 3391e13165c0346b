"""The ``bridge-demo`` command: run the flow, print the summary, serve until Ctrl-C."""

import asyncio
import signal

from pydantic import ValidationError
from rich.console import Console

from bridge_core.http.client import ServiceClientError
from bridge_core.logging import configure_logging
from bridge_demo.erp_rows import BAD_ROWS, LATE_PARTS
from bridge_demo.errors import DemoError
from bridge_demo.flows import DemoReport, run_syncs, running_services
from bridge_demo.plan import HOST, DemoPlan, demo_plan
from bridge_demo.report import (
    access_panel,
    batch_problems,
    delivery_table,
    erp_summary,
    failures_table,
    sync_table,
    verify_table,
)
from bridge_demo.servers import check_port_free

WIDE = 120


def show(report: DemoReport, plan: DemoPlan, console: Console) -> None:
    """Print the summary: ERP, both syncs, checks, bad rows, docs and logins."""
    database = plan.erp_url.database or ""
    bad = sum(BAD_ROWS.values())
    console.print(erp_summary(database, report.erp_rows, bad=bad, late=len(LATE_PARTS)))
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
    console.print(f"parked children still waiting for a parent: {report.pending_children}")
    console.print()
    console.print(failures_table(report.failures.items, total=report.failures.total))
    console.print()
    delivered = report.delivered
    console.print(
        delivery_table(
            report.urls.schedulehub, delivered.records, report.verify, dead=delivered.dead
        )
    )
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


async def _plan_and_run(console: Console, *, ports: dict[str, int], once: bool) -> DemoReport:
    # SIGTERM stops the demo as Ctrl-C does: servers shut down, the embedded server is let go
    main = asyncio.current_task()
    if main is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    async with demo_plan(
        apismith_port=ports["apismith"],
        syncflow_port=ports["syncflow"],
        schedulehub_port=ports["schedulehub"],
    ) as plan:
        return await run_demo(plan, console=console, once=once)


def run_command(
    console: Console, *, apismith_port: int, syncflow_port: int, schedulehub_port: int, once: bool
) -> int:
    """``bridge-demo``: the exit status (0 when every batch completed and every change was
    delivered, or on Ctrl-C)."""
    # the tables are the output; the services' own logs would bury them
    configure_logging(service="demo", level="WARNING")
    if not console.is_terminal:
        console.width = max(console.width, WIDE)  # a log file or pipe: do not cut the tables
    try:
        ports = {"apismith": apismith_port, "syncflow": syncflow_port}
        ports["schedulehub"] = schedulehub_port
        if len(set(ports.values())) < len(ports):
            raise DemoError("APISmith, SyncFlow and the ScheduleHub stand-in need three ports")
        check_port_free(HOST, apismith_port, what="APISmith", option="--apismith-port")
        check_port_free(HOST, syncflow_port, what="SyncFlow", option="--syncflow-port")
        check_port_free(
            HOST, schedulehub_port, what="the ScheduleHub stand-in", option="--schedulehub-port"
        )
        report = asyncio.run(_plan_and_run(console, ports=ports, once=once))
    except (DemoError, ServiceClientError, ValidationError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("demo stopped")
        return 0
    return 0 if report.ok else 1
