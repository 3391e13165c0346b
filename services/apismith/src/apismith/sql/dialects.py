"""How APISmith's dialects are named in sqlglot."""

from apismith.drivers.base import Dialect

SQLGLOT_DIALECTS: dict[Dialect, str] = {
    Dialect.POSTGRESQL: "postgres",
    Dialect.MYSQL: "mysql",
    Dialect.SQLITE: "sqlite",
    Dialect.ORACLE: "oracle",
    Dialect.MSSQL: "tsql",
}


def sqlglot_dialect(dialect: Dialect) -> str:
    """sqlglot's name for ``dialect``."""
    return SQLGLOT_DIALECTS[Dialect(dialect)]
