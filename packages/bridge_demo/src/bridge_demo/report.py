"""The demo's output: rich tables of the syncs, the checks, the bad rows, and the logins."""

import json
from collections.abc import Sequence

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bridge_demo.plan import DemoCredentials
from syncflow.monitoring.schemas import FailedRecord
from syncflow.sync.schemas import BatchStatus
from syncflow.verify.schemas import VerifyReport

# resolved: parked children loaded in this batch, the batch of their parent
SHOWN = ("fetched", "inserted", "updated", "unchanged", "deleted", "failed", "pending", "resolved")


def erp_summary(database: str, rows: dict[str, int], *, bad: int, late: int) -> Text:
    """Two lines on what the sample ERP holds."""
    counts = ", ".join(f"{count:,} {name.replace('_', ' ')}" for name, count in rows.items())
    return Text.from_markup(
        f"[bold]sample ERP[/bold] (database {database}): {counts}\n"
        f"{bad} rows are bad on purpose; {late} shop orders (and their operations) name a "
        "part that the ERP creates only before the incremental sync"
    )


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD)


def seconds(status: BatchStatus) -> float:
    """How long the batch ran."""
    if status.started_at is None or status.finished_at is None:
        return 0.0
    return (status.finished_at - status.started_at).total_seconds()


def sync_table(title: str, statuses: Sequence[BatchStatus]) -> Table:
    """One row per entity with the counters a user cares about, and a total."""
    table = _table(title)
    table.add_column("entity", no_wrap=True)
    for name in SHOWN:
        table.add_column(name, justify="right")
    table.add_column("seconds", justify="right")
    for status in statuses:
        name = status.entity
        if status.status != "completed":
            name += f" [red]({status.status})[/red]"
        table.add_row(
            name,
            *(f"{status.counters.get(counter, 0):,}" for counter in SHOWN),
            f"{seconds(status):.2f}",
        )
    table.add_section()
    table.add_row(
        "total",
        *(f"{sum(s.counters.get(counter, 0) for s in statuses):,}" for counter in SHOWN),
        f"{sum(seconds(s) for s in statuses):.2f}",
        style="bold",
    )
    return table


def batch_problems(statuses: Sequence[BatchStatus]) -> list[str]:
    """A line per batch that did not complete, and per warning of one that did."""
    lines = [
        f"{s.entity}: {s.status}: {s.error or 'no error recorded'}"
        for s in statuses
        if s.status != "completed"
    ]
    lines += [f"{s.entity}: {warning}" for s in statuses for warning in s.warnings]
    return lines


def verify_table(reports: Sequence[VerifyReport]) -> Table:
    """Source against target per entity; missing rows are the bad rows SyncFlow kept aside."""
    table = _table("verify: the ERP (through APISmith) against the target tables")
    table.add_column("entity", no_wrap=True)
    for column in ("source rows", "target rows", "missing", "extra", "different"):
        table.add_column(column, justify="right")
    for report in reports:
        table.add_row(
            report.entity,
            f"{report.source_rows:,}",
            f"{report.target_rows:,}",
            f"{report.missing:,}",
            f"{report.extra:,}",
            f"{report.different:,}",
        )
    return table


def failures_table(failures: Sequence[FailedRecord], *, total: int) -> Table:
    """The bad rows SyncFlow kept: entity, stage and error."""
    table = _table(f"failed records: {total} bad ERP rows, kept with their raw data")
    table.add_column("entity", no_wrap=True)
    table.add_column("stage")
    table.add_column("error")
    for failure in sorted(failures, key=lambda f: (f.entity, f.error)):
        table.add_row(failure.entity, failure.stage, failure.error)
    return table


def access_panel(
    *, apismith_url: str, syncflow_url: str, credentials: DemoCredentials
) -> RenderableType:
    """Where the consoles and the docs are and how to sign in to them."""
    login = json.dumps(
        {"username": credentials.admin_username, "password": credentials.admin_password}
    )
    return Panel(
        Group(
            Text.from_markup(f"[bold]SyncFlow console[/bold]  {syncflow_url}/console"),
            Text.from_markup(f"[bold]APISmith console[/bold]  {apismith_url}/console"),
            Text(
                f"  sign in to both as {credentials.admin_username} / {credentials.admin_password}",
                style="bold",
            ),
            Text.from_markup(f"[bold]APISmith[/bold]  {apismith_url}/api/v1/docs"),
            Text("  log in: POST /api/v1/auth/login with the body"),
            Text(f"    {login}", style="bold"),
            Text("  then Authorize with the access_token it returns"),
            Text.from_markup(f"[bold]SyncFlow[/bold]  {syncflow_url}/api/v1/docs"),
            Text("  Authorize with the operator token"),
            Text(f"    {credentials.operator_token}", style="bold"),
        ),
        title="try the consoles and the APIs",
        title_align="left",
        expand=False,
    )


def delivery_table(
    schedulehub_url: str, records: dict[str, int], reports: Sequence[VerifyReport], *, dead: int
) -> RenderableType:
    """Per entity: live rows in the target against the records ScheduleHub now holds."""
    table = _table("delivered to ScheduleHub")
    table.add_column("entity", no_wrap=True)
    table.add_column("target rows", justify="right")
    table.add_column("ScheduleHub records", justify="right")
    for report in reports:
        held = records.get(report.entity, 0)
        shown = f"{held:,}" if held == report.target_rows else f"[red]{held:,}[/red]"
        table.add_row(report.entity, f"{report.target_rows:,}", shown)
    where = f"the ScheduleHub stand-in at {schedulehub_url}; dead letters: {dead}"
    if dead:
        where += " (GET /api/v1/deliveries?state=dead shows why)"
    return Group(table, Text(where))
