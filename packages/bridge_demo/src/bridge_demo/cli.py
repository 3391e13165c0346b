"""The ``bridge-demo`` command: both services on a generated IFS-like ERP."""

from typing import Annotated

import typer
from rich.console import Console

from bridge_demo.command import run_command

# one command, no sub-commands: ``bridge-demo --once``
app = typer.Typer(add_completion=False)


@app.command()
def demo(
    apismith_port: Annotated[int, typer.Option(help="APISmith's port.")] = 8007,
    syncflow_port: Annotated[int, typer.Option(help="SyncFlow's port.")] = 8008,
    schedulehub_port: Annotated[int, typer.Option(help="The ScheduleHub stand-in's port.")] = 8009,
    once: Annotated[
        bool, typer.Option("--once", help="Exit after the syncs instead of serving on.")
    ] = False,
) -> None:
    """Both services on a generated IFS-like ERP: register, sync, change, sync again, and
    deliver every change to a ScheduleHub stand-in."""
    status = run_command(
        Console(),
        apismith_port=apismith_port,
        syncflow_port=syncflow_port,
        schedulehub_port=schedulehub_port,
        once=once,
    )
    raise typer.Exit(status)


def main() -> None:
    app()
