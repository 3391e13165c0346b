"""The guards every PostgreSQL session of APISmith starts with, and the check that they
took: ``default_transaction_read_only=on`` and the connection's ``statement_timeout``,
sent as startup parameters by asyncpg's pool (``postgresql``) and by the ADBC sessions
of Arrow pages (``postgresql_arrow_session``).

A pooler that drops startup parameters (PgBouncer's ``ignore_startup_parameters``)
would leave pages writable and unbounded, so both refuse such a session.
"""

from apismith.drivers.base import ErpQueryError

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
