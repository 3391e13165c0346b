"""The ``syncflow`` command: serve, worker, migrate, sync, status, verify, users, tokens,
destinations, entities, deliveries (``syncflow.commands.deliveries``)."""

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.auth.users.cli import users_commands
from bridge_core.cli import add_version_option
from bridge_core.db.transaction import Database
from bridge_core.http.server import serve as run_server
from syncflow import __version__
from syncflow.auth import service as auth_service
from syncflow.auth.dependencies import ROLES
from syncflow.auth.schemas import TokenCreated
from syncflow.commands import deliveries as deliveries_commands
from syncflow.commands import destinations as destinations_commands
from syncflow.commands.running import cli_settings, in_transaction, with_databases
from syncflow.domain import COUNTER_NAMES
from syncflow.entities import service as entity_service
from syncflow.main import build_app
from syncflow.sync import service as sync_service
from syncflow.sync.schemas import BatchFilter, BatchStatus
from syncflow.tables import users
from syncflow.verify.service import verify_entity
from syncflow.worker import flows as worker_flows
from syncflow.worker.watch import sync_and_watch

app = typer.Typer(
    help="SyncFlow: ERP data from APISmith into PostgreSQL, every batch tracked.",
    no_args_is_help=True,
)
console = Console()


add_version_option(app, program="syncflow", version=__version__, help_text="SyncFlow command line.")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: 8008]")] = None,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Also run batches in this process.")
    ] = True,
) -> None:
    """Serve the API (applies pending migrations first), with an in-process worker."""
    settings = cli_settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    run_server(build_app(settings, run_worker=worker), host=settings.host, port=settings.port)


@app.command(name="worker")
def run_worker(
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve this worker's /metrics on this port [default: off]"),
    ] = None,
) -> None:
    """Run queued batches and the scheduler (due schedules, retries, pruning) until
    SIGTERM or Ctrl-C. Start as many as you like, on any machine, on one database."""
    settings = cli_settings()

    async def work(database: Database, target: Database) -> None:
        await worker_flows.run_worker(
            database=database,
            target_database=target,
            settings=settings,
            metrics_port=metrics_port if metrics_port is not None else settings.worker_metrics_port,
        )

    with_databases(settings, work)
    console.print("worker stopped")


@app.command()
def migrate() -> None:
    """Apply pending database migrations and exit."""

    async def work(database: Database, target: Database) -> None:
        return None

    with_databases(cli_settings(), work)
    typer.echo("syncflow: database is at the latest migration")


class RowsColumn(ProgressColumn):
    """``1,200/5,000 rows``, or ``1,200 rows`` while the total is not known yet."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text(f"{task.completed:,.0f} rows")
        return Text(f"{task.completed:,.0f}/{task.total:,.0f} rows")


def _summary(status: BatchStatus) -> Table:
    table = Table(
        title=f"{status.entity}: {status.status} ({status.mode}"
        f"{', dry run' if status.dry_run else ''})"
    )
    table.add_column("counter")
    table.add_column("rows", justify="right")
    for name in COUNTER_NAMES:
        table.add_row(name, f"{status.counters.get(name, 0):,}")
    if status.started_at and status.finished_at:
        seconds = (status.finished_at - status.started_at).total_seconds()
        table.add_row("seconds", f"{seconds:.1f}")
    return table


@app.command()
def sync(
    entity: Annotated[str, typer.Argument(help="The entity to sync.")],
    full: Annotated[
        bool, typer.Option("--full", help="Read everything (detects deletes).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Compute the delta, write nothing to the target.")
    ] = False,
) -> None:
    """Sync one entity now, with a progress bar and a summary."""
    settings = cli_settings()
    mode = "full" if full else "incremental"

    async def work(database: Database, target: Database) -> BatchStatus:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            RowsColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task(entity, total=None)

            def show(status: BatchStatus) -> None:
                progress.update(
                    task,
                    completed=status.counters.get("fetched", 0),
                    total=status.progress.get("total_rows"),
                    description=f"{entity} ({status.status})",
                )

            return await sync_and_watch(
                database=database,
                target_database=target,
                settings=settings,
                entity=entity,
                mode=mode,
                dry_run=dry_run,
                on_progress=show,
            )

    status = with_databases(settings, work)
    console.print(_summary(status))
    for warning in status.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    if status.status != "completed":
        console.print(f"[red]{status.status}:[/red] {status.error or ''}")
        raise typer.Exit(1)


@app.command()
def status(
    entity: Annotated[str | None, typer.Option(help="Only this entity.")] = None,
    limit: Annotated[int, typer.Option(help="How many batches.")] = 20,
) -> None:
    """Recent batches, newest first."""

    async def work(conn: AsyncConnection) -> list[BatchStatus]:
        filters = BatchFilter(entity=entity)
        page = await sync_service.history(conn, filters=filters, page=1, page_size=limit)
        return page.items

    batches = in_transaction(cli_settings(), work)
    table = Table(title="sync batches")
    for column in ("batch", "entity", "mode", "status", *COUNTER_NAMES[:7], "started"):
        table.add_column(column)
    for b in batches:
        table.add_row(
            str(b.batch_uid)[-12:],
            b.entity,
            b.mode + (" (dry)" if b.dry_run else ""),
            b.status,
            *[f"{b.counters.get(n, 0):,}" for n in COUNTER_NAMES[:7]],
            b.started_at.strftime("%Y-%m-%d %H:%M:%S") if b.started_at else "-",
        )
    console.print(table)


@app.command()
def verify(entity: Annotated[str, typer.Argument(help="The entity to verify.")]) -> None:
    """Compare the source with the target: missing, extra and different rows."""
    settings = cli_settings()

    async def work(database: Database, target: Database) -> dict[str, object]:
        async with database.transaction() as conn:
            report = await verify_entity(
                conn, target_database=target, settings=settings, name=entity
            )
        return report.model_dump()

    report = with_databases(settings, work)
    table = Table(title=f"verify {entity}: {'EQUAL' if report['equal'] else 'DIFFERENT'}")
    table.add_column("what")
    table.add_column("value")
    for key, value in report.items():
        if key not in ("entity", "equal"):
            table.add_row(key, str(value))
    console.print(table)
    if not report["equal"]:
        raise typer.Exit(1)


tokens_app = typer.Typer(help="Manage operator tokens.", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")


@tokens_app.command("create")
def create_token(
    name: Annotated[str, typer.Option(help="Who or what uses the token, e.g. ops-alice.")],
) -> None:
    """Create an operator token and print it (to stdout, once; only its hash is stored)."""
    settings = cli_settings()

    async def work(conn: AsyncConnection) -> TokenCreated:
        return await auth_service.create_token(
            conn, settings=settings, name=name, created_by="the command line"
        )

    created = in_transaction(settings, work)
    typer.echo(
        f"syncflow: operator token {created.uid} ({created.name}) created; "
        "it is shown once, store it now:",
        err=True,
    )
    typer.echo(created.token)


app.add_typer(
    users_commands(
        program="syncflow",
        table=users,
        roles=ROLES,
        default_role="viewer",
        in_transaction=lambda work: in_transaction(cli_settings(), work),
    ),
    name="users",
)


app.add_typer(destinations_commands.app, name="destinations")
app.add_typer(deliveries_commands.app, name="deliveries")


def main() -> None:
    app()


entities_app = typer.Typer(help="Maintain entities' target tables.", no_args_is_help=True)
app.add_typer(entities_app, name="entities")


@entities_app.command("upgrade")
def upgrade_entities(
    names: Annotated[list[str] | None, typer.Argument(help="Entities to upgrade.")] = None,
    all_entities: Annotated[bool, typer.Option("--all", help="Every entity.")] = False,
) -> None:
    """Store the target tables' hashes as uuid and bytea (from the hex text of before)."""
    if bool(names) == all_entities:
        console.print("[red]error:[/red] name the entities to upgrade, or pass --all")
        raise typer.Exit(2)
    settings = cli_settings()

    async def work(database: Database, target: Database) -> list[tuple[str, bool]]:
        async with database.transaction() as conn:
            wanted = names or [e.name for e in await entity_service.list_entities(conn)]
        done = []
        for name in wanted:  # one transaction pair per table: each upgrade stands alone
            async with database.transaction() as conn, target.transaction() as target_conn:
                upgraded = await entity_service.upgrade_target(
                    conn, target_conn, settings=settings, name=name
                )
            done.append((name, upgraded))
        return done

    for name, upgraded in with_databases(settings, work):
        typer.echo(f"{name}: " + ("upgraded" if upgraded else "already current"))
