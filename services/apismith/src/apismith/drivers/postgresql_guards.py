"""The guards every PostgreSQL session of APISmith starts with, and the check that they
took: ``default_transaction_read_only=on`` and the connection's ``statement_timeout``,
sent as startup parameters by asyncpg's pool (``postgresql``) and by the ADBC sessions
of Arrow pages (``postgresql_arrow_session``).

A pooler that drops startup parameters (PgBouncer's ``ignore_startup_parameters``)
would leave pages writable and unbounded, so both refuse such a session.

Both paths also read a server error the same way: :func:`server_error`.
"""

from apismith.drivers.base import ErpQueryError, ErpTimeout, ErpUnreachable
from bridge_core.errors import BridgeError

# SQLSTATEs that mean "no working session" (connection, auth, database, resources,
# shutdown), not "bad query"
UNREACHABLE_SQLSTATES = ("08", "28", "3D", "53", "57P")

# what a new session reads back: its read-only default and its statement timeout
GUARDS_QUERY = (
    "SELECT current_setting('default_transaction_read_only'), current_setting('statement_timeout')"
)


def refuse_unguarded(read_only: str, timeout: str) -> None:
    """ErpQueryError unless the session (``GUARDS_QUERY``'s answer) started read-only with a
    statement timeout."""
    if read_only != "on" or timeout == "0":
        raise ErpQueryError(
            "the PostgreSQL session did not start read-only with a statement timeout "
            f"(default_transaction_read_only={read_only}, statement_timeout={timeout}); "
            "a connection pooler between APISmith and the database must pass both "
            "startup parameters on"
        )


def server_error(sqlstate: str, text: str, *, where: str, statement_timeout_ms: int) -> BridgeError:
    """APISmith's error for a PostgreSQL error of ``sqlstate`` (``text``: its message,
    secrets masked): the statement timeout (504), no working session, or a refused query
    (502)."""
    if sqlstate == "57014" and "statement timeout" in text:  # query_canceled
        return ErpTimeout(f"the statement ran past {statement_timeout_ms} ms and was cancelled")
    if sqlstate.startswith(UNREACHABLE_SQLSTATES):
        return ErpUnreachable(f"cannot reach PostgreSQL at {where}: {text}")
    return ErpQueryError(f"PostgreSQL rejected the query: {text}")
