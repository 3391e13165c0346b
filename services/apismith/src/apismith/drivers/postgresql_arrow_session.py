"""One ADBC session to PostgreSQL: its connection string, the check of its guards, and
its errors as APISmith's.

A session starts with the same startup parameters as an asyncpg session
(``default_transaction_read_only=on`` and the connection's ``statement_timeout``, in
libpq's ``options``) and is refused when they did not take (:func:`check_guards`, over
``apismith.drivers.postgresql_guards``).
"""

import re
from typing import Any

import adbc_driver_manager

from apismith.drivers.base import ErpUnreachable, error_text
from apismith.drivers.postgresql_guards import GUARDS_QUERY, refuse_unguarded, server_error
from apismith.drivers.urls import PostgresTarget

# the primary message of a libpq error inside ADBC's text ("... ERROR:  <message>\n...")
_PRIMARY = re.compile(r"ERROR:\s+(.*?)\s*(?:\n|$)")


def conninfo(target: PostgresTarget, statement_timeout_ms: int, connect_timeout_s: float) -> str:
    """A libpq connection string with the session's guards as startup parameters."""
    endpoint = target.endpoint
    parts = {
        "host": endpoint.host,
        "port": str(endpoint.port),
        "dbname": endpoint.database,
        "user": target.user,
        "application_name": "apismith",
        "connect_timeout": str(max(1, round(connect_timeout_s))),
        "options": (
            f"-c default_transaction_read_only=on -c statement_timeout={statement_timeout_ms}"
        ),
    }
    if target.password is not None:
        parts["password"] = target.password
    if target.ssl is not None:
        parts["sslmode"] = target.ssl
    return " ".join(f"{key}='{_quoted(value)}'" for key, value in parts.items())


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def check_guards(connection: Any) -> None:
    """ErpQueryError unless the new session (an ADBC connection) is read-only with a
    statement timeout."""
    with connection.cursor() as cursor:
        cursor.execute(GUARDS_QUERY)
        read_only, timeout = cursor.fetchone()
    refuse_unguarded(read_only, timeout)


def erp_error(
    exc: Exception, *, secret: str | None, where: str, statement_timeout_ms: int
) -> Exception:
    """ADBC's error as APISmith's (timeout, unreachable, rejected); any other as it is."""
    if not isinstance(exc, adbc_driver_manager.Error):
        return exc
    raw = str(exc)
    primary = _PRIMARY.search(raw)
    text = error_text(primary.group(1) if primary else raw, secret=secret)
    sqlstate = getattr(exc, "sqlstate", None) or ""
    if not sqlstate:  # libpq's own failure (connect, socket): no server said anything
        return ErpUnreachable(f"cannot reach PostgreSQL at {where}: {text}")
    return server_error(sqlstate, text, where=where, statement_timeout_ms=statement_timeout_ms)
