"""What both command lines do first: read settings (echoing no secret), configure logging;
and how a command runs its async work, a domain error ending it with exit code 1."""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from bridge_core.errors import BridgeError
from bridge_core.logging import configure_logging
from bridge_core.settings import ServiceSettings


def load_settings[S: ServiceSettings](settings_class: type[S], *, service: str) -> S:
    """The service's settings, with logging configured; bad settings exit with code 2.

    pydantic's own message quotes the input, and with it every secret that was set, so
    each problem is printed as one line naming the environment variable instead.
    """
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    try:
        settings = settings_class()
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            name = "_".join(str(part) for part in error["loc"]).upper()
            where = f"{prefix}{name}: " if name else ""
            typer.echo(f"{service}: invalid settings: {where}{error['msg']}", err=True)
        raise typer.Exit(2) from None
    configure_logging(
        service=service,
        level=settings.log_level,
        json=settings.log_json,
        log_dir=settings.data_dir / "logs" if settings.log_file else None,
    )
    return settings


def run_or_exit[T](work: Coroutine[Any, Any, T], *, say: Callable[[str], None]) -> T:
    """``asyncio.run(work)``; a domain error (``BridgeError``) is told with ``say(detail)``
    and ends the command with exit code 1."""
    try:
        return asyncio.run(work)
    except BridgeError as exc:
        say(exc.detail)
        raise typer.Exit(1) from exc


def add_version_option(app: typer.Typer, *, program: str, version: str, help_text: str) -> None:
    """Give ``app`` its top-level callback: ``--version`` prints ``<program> <version>``."""

    def show_version(value: bool) -> None:
        if value:
            typer.echo(f"{program} {version}")
            raise typer.Exit

    @app.callback(help=help_text)
    def _main(
        version: Annotated[
            bool,
            typer.Option(
                "--version", callback=show_version, is_eager=True, help="Show the version."
            ),
        ] = False,
    ) -> None:
        """The command line's options before any command."""
