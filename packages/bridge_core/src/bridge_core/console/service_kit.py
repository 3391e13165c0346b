"""A service's console kit, built the way both services build theirs."""

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Table

from bridge_core.auth.users.router import console_sign_in
from bridge_core.console.kit import ConsoleKit, NavItem, SessionUser
from bridge_core.settings import ServiceSettings

__all__ = ["service_console_kit"]


def service_console_kit(
    service: str,
    folder: Path,
    nav: Sequence[NavItem],
    *,
    users: Table,
    settings: ServiceSettings,
    session_user: SessionUser,
) -> ConsoleKit:
    """``service``'s console kit: templates and translations in ``folder`` (beside its pages
    module), sign-in with its ``users`` table, and Secure cookies outside development
    and test."""
    return ConsoleKit(
        service=service,
        template_dir=folder / "templates",
        catalog_dir=folder / "translations",
        nav=nav,
        sign_in=console_sign_in(table=users, settings=settings),
        session_user=session_user,
        secure_cookies=settings.environment not in ("development", "test"),
    )
