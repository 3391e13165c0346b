"""Connection URLs: which dialect a URL names, and what each driver connects with.

APISmith takes SQLAlchemy-style URLs with the plain dialect name and picks the
driver itself; a driver-qualified name is accepted when it names that driver::

    postgresql://u:p@host:5432/db             postgres://, postgresql+asyncpg://
    mysql://u:p@host:3306/db                  mariadb://, mysql+asyncmy://, mariadb+asyncmy://
    sqlite:///relative/erp.db                 sqlite:////absolute/erp.db, sqlite+pysqlite://
    oracle://u:p@host:1521/?service_name=X    oracle://u:p@host:1521/SID, oracle+oracledb://
    mssql://u:p@host:1433/db?driver=...       mssql+pyodbc://

Every check names the part of the URL that is wrong but never repeats the URL,
which holds the password. Query parameters are allow-listed per dialect, so a URL
cannot smuggle driver options past the checks (the metadata-database guard reads
host, port and database exactly as the driver will).
"""

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from apismith.drivers.base import Dialect
from bridge_core.errors import Unprocessable

DEFAULT_PORTS: dict[Dialect, int] = {
    Dialect.POSTGRESQL: 5432,
    Dialect.MYSQL: 3306,
    Dialect.ORACLE: 1521,
    Dialect.MSSQL: 1433,
}

# the Python driver APISmith uses for each dialect, as SQLAlchemy names it
DRIVER_NAMES: dict[Dialect, str] = {
    Dialect.POSTGRESQL: "asyncpg",
    Dialect.MYSQL: "asyncmy",
    Dialect.SQLITE: "pysqlite",
    Dialect.ORACLE: "oracledb",
    Dialect.MSSQL: "pyodbc",
}

_BACKENDS: dict[str, Dialect] = {
    "postgresql": Dialect.POSTGRESQL,
    "postgres": Dialect.POSTGRESQL,
    "mysql": Dialect.MYSQL,
    "mariadb": Dialect.MYSQL,
    "sqlite": Dialect.SQLITE,
    "oracle": Dialect.ORACLE,
    "mssql": Dialect.MSSQL,
}

DEFAULT_ODBC_DRIVER = "ODBC Driver 18 for SQL Server"

_SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

# ODBC attributes a mssql:// URL may set, by lower-cased query key
_MSSQL_ATTRIBUTES = {
    "encrypt": "Encrypt",
    "trustservercertificate": "TrustServerCertificate",
    "hostnameincertificate": "HostNameInCertificate",
    "multisubnetfailover": "MultiSubnetFailover",
}


def url_dialect(url: URL) -> Dialect:
    """The dialect a parsed URL names; 422 for other schemes or another driver."""
    backend, _, driver = url.drivername.partition("+")
    dialect = _BACKENDS.get(backend)
    if dialect is None:
        raise Unprocessable(
            f"unsupported URL scheme {url.drivername!r}: use postgresql, mysql, sqlite, "
            "oracle or mssql"
        )
    expected = DRIVER_NAMES[dialect]
    if driver and driver != expected:
        raise Unprocessable(
            f"APISmith reaches {dialect} with {expected}: write {backend}:// or "
            f"{backend}+{expected}://"
        )
    return dialect


def parse_connection_url(dialect: Dialect | str, url: str) -> URL:
    """``url`` parsed and checked for ``dialect`` (422 saying what is wrong, never the URL)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        # from None: SQLAlchemy's message and traceback quote the URL with its password
        raise Unprocessable(
            "url is not a database URL: expected dialect://user:password@host:port/database"
        ) from None
    named = url_dialect(parsed)
    if named != Dialect(dialect):
        raise Unprocessable(
            f"the URL is a {named} URL but the connection's dialect is {Dialect(dialect)}"
        )
    _CHECKS[named](parsed)
    return parsed


def masked_url(url: URL) -> str:
    """``url`` as text with its password shown as ``***``."""
    return url.render_as_string(hide_password=True)


def _query(url: URL, allowed: Iterable[str], dialect: Dialect) -> dict[str, str]:
    """The URL's query parameters (keys as given) after checking them against ``allowed``."""
    allowed_keys = {key.lower() for key in allowed}
    params: dict[str, str] = {}
    for key, value in url.query.items():
        if key.lower() not in allowed_keys:
            supported = ", ".join(sorted(allowed)) or "none"
            raise Unprocessable(
                f"unsupported URL parameter {key!r} for {dialect} (supported: {supported})"
            )
        if not isinstance(value, str):
            raise Unprocessable(f"URL parameter {key!r} is given more than once")
        params[key] = value
    return params


def _required(value: str | None, what: str) -> str:
    if not value:
        raise Unprocessable(f"the URL names no {what}")
    return value


def _host(host: str | None) -> str:
    host = _required(host, "host")
    if "," in host:
        raise Unprocessable("the URL names several hosts; give one")
    if "@" in host:
        # an unencoded "@" in the password splits it, and its tail would show as the host
        raise Unprocessable("the URL's host holds '@': write '@' in the password as %40")
    return host


@dataclass(frozen=True)
class PostgresEndpoint:
    """Where a PostgreSQL URL leads: a host (name, address or Unix-socket directory)."""

    host: str
    port: int
    database: str


@dataclass(frozen=True)
class PostgresTarget:
    """What the PostgreSQL driver connects with."""

    endpoint: PostgresEndpoint
    user: str
    password: str | None
    ssl: str | None


def postgres_endpoint(url: URL) -> PostgresEndpoint:
    """Host, port and database of any PostgreSQL URL, read as asyncpg reads them.

    ``?host=`` and ``?port=`` win over the authority part; no host means the local
    server, no database means the user's database.
    """
    host = url.query.get("host") or url.host or "localhost"
    port = url.query.get("port") or url.port or DEFAULT_PORTS[Dialect.POSTGRESQL]
    if not isinstance(host, str) or not isinstance(port, (str, int)):
        raise Unprocessable("URL parameters 'host' and 'port' may be given once each")
    try:
        port_number = int(port)
    except ValueError:
        raise Unprocessable("the URL's port is not a number") from None
    return PostgresEndpoint(
        host=host, port=port_number, database=url.database or url.username or "postgres"
    )


def postgres_target(url: URL) -> PostgresTarget:
    """Connection parameters of a ``postgresql://`` ERP URL."""
    query = _query(url, ("host", "port", "sslmode"), Dialect.POSTGRESQL)
    _host(query.get("host") or url.host)
    _required(url.database, "database")
    ssl = query.get("sslmode")
    if ssl is not None and ssl not in _SSL_MODES:
        raise Unprocessable(f"sslmode must be one of {', '.join(_SSL_MODES)}")
    return PostgresTarget(
        endpoint=postgres_endpoint(url),
        user=_required(url.username, "user"),
        password=url.password,
        ssl=ssl,
    )


def mysql_params(url: URL) -> dict[str, Any]:
    """asyncmy connection keywords of a ``mysql://`` (or ``mariadb://``) URL."""
    query = _query(url, ("charset",), Dialect.MYSQL)
    return {
        "host": _host(url.host),
        "port": url.port or DEFAULT_PORTS[Dialect.MYSQL],
        "user": _required(url.username, "user"),
        "password": url.password or "",
        "db": _required(url.database, "database"),
        "charset": query.get("charset", "utf8mb4"),
    }


def sqlite_path(url: URL) -> str:
    """The database file a ``sqlite:///path`` URL names."""
    _query(url, (), Dialect.SQLITE)
    if url.host or url.username:
        raise Unprocessable("a sqlite URL names a file only: sqlite:///path/to/erp.db")
    path = url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        raise Unprocessable("the URL names no database file: write sqlite:///path/to/erp.db")
    return path


def sqlite_uri(path: str) -> str:
    """The read-only SQLite URI of a database file (``mode=ro``: nothing can write it)."""
    return f"file:{quote(os.path.abspath(path), safe='/')}?mode=ro"


def oracle_params(url: URL) -> dict[str, Any]:
    """python-oracledb keywords of an ``oracle://`` URL (``?service_name=X`` or ``/SID``)."""
    query = _query(url, ("service_name", "protocol"), Dialect.ORACLE)
    service_name = query.get("service_name")
    sid = url.database
    if service_name and sid:
        raise Unprocessable("give the Oracle database as ?service_name=X or as /SID, not both")
    if not service_name and not sid:
        raise Unprocessable("the URL names no Oracle database: add ?service_name=X or /SID")
    protocol = query.get("protocol", "tcp")
    if protocol not in ("tcp", "tcps"):
        raise Unprocessable("protocol must be tcp or tcps")
    params: dict[str, Any] = {
        "user": _required(url.username, "user"),
        "password": url.password,
        "host": _host(url.host),
        "port": url.port or DEFAULT_PORTS[Dialect.ORACLE],
        "protocol": protocol,
    }
    if service_name:
        params["service_name"] = service_name
    else:
        params["sid"] = sid
    return params


def oracle_dsn(params: dict[str, Any]) -> str:
    """The Easy Connect text of ``oracle_params`` (for messages: it holds no password)."""
    database = params.get("service_name") or f"SID={params.get('sid')}"
    return f"{params['host']}:{params['port']}/{database}"


def mssql_connection_string(url: URL) -> str:
    """The ODBC connection string of an ``mssql://`` URL, always ``ApplicationIntent=ReadOnly``."""
    query = _query(url, ("driver", *_MSSQL_ATTRIBUTES.values()), Dialect.MSSQL)
    lowered = {key.lower(): value for key, value in query.items()}
    attributes: dict[str, str | None] = {
        "DRIVER": lowered.get("driver", DEFAULT_ODBC_DRIVER),
        "SERVER": f"{_host(url.host)},{url.port or DEFAULT_PORTS[Dialect.MSSQL]}",
        "DATABASE": _required(url.database, "database"),
        "UID": _required(url.username, "user"),
        "PWD": url.password,
        "ApplicationIntent": "ReadOnly",
    }
    for key, name in _MSSQL_ATTRIBUTES.items():
        attributes[name] = lowered.get(key)
    return ";".join(
        f"{name}={_odbc_value(value, brace=name == 'DRIVER')}"
        for name, value in attributes.items()
        if value is not None
    )


def _odbc_value(value: str, *, brace: bool = False) -> str:
    """A connection-string value, braced (``}`` doubled) when it could end the attribute."""
    if brace or any(c in value for c in ";{}=") or value != value.strip():
        return "{" + value.replace("}", "}}") + "}"
    return value


_CHECKS: dict[Dialect, Callable[[URL], object]] = {
    Dialect.POSTGRESQL: postgres_target,
    Dialect.MYSQL: mysql_params,
    Dialect.SQLITE: sqlite_path,
    Dialect.ORACLE: oracle_params,
    Dialect.MSSQL: mssql_connection_string,
}
