"""Governance of saved SQL: one read-only SELECT, parsed in the connection's dialect.

``validate_select`` fails closed: anything it does not positively recognise as a
read-only building block (see ``apismith.sql.policy``) is refused with a 422 that
says what was found. The database still runs every query in a read-only
transaction with a statement timeout; this is the first of those layers, not the
only one.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import ErrorLevel, exp
from sqlglot import parse as sqlglot_parse
from sqlglot.errors import ParseError, SqlglotError, TokenError, UnsupportedError

from apismith.drivers.base import ColumnInfo, Dialect
from apismith.sql.dialects import sqlglot_dialect
from apismith.sql.policy import (
    ALLOWED_NODES,
    DENIED_NODES,
    DENIED_TABLE_HINTS,
    is_denied_function,
)
from bridge_core.errors import Unprocessable

MAX_SQL_LENGTH = 200_000
# user parameter names start with a letter; generated bind names start with "_"
PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class ValidatedQuery:
    """A saved SELECT that passed governance, with the named parameters it uses."""

    expression: exp.Query
    dialect: Dialect
    parameters: list[str]


def validate_select(sql: str, dialect: Dialect) -> ValidatedQuery:
    """Parse ``sql`` in ``dialect`` and accept it only as one read-only SELECT (422 otherwise)."""
    if not sql or not sql.strip():
        raise Unprocessable("the SQL is empty")
    if len(sql) > MAX_SQL_LENGTH:
        raise Unprocessable(f"the SQL is longer than {MAX_SQL_LENGTH} characters")
    statements = _parse(sql, dialect)
    if not statements:
        raise Unprocessable("the SQL holds no statement")
    if len(statements) > 1:
        raise Unprocessable(f"only one statement is allowed; found {len(statements)}")
    parameters = _check_tree(statements[0])
    query = _top_level_query(statements[0])
    _check_output_names(query)
    _check_renders(query, dialect)
    return ValidatedQuery(expression=query, dialect=Dialect(dialect), parameters=parameters)


def check_output_columns(
    columns: Sequence[ColumnInfo],
    *,
    business_keys: Sequence[str],
    rowversion_column: str | None,
) -> None:
    """422 unless the query returns distinctly named columns including every key column."""
    if not columns:
        raise Unprocessable("the query returns no columns")
    seen: set[str] = set()
    for column in columns:
        if not column.name:
            raise Unprocessable("every output column needs a name: add an alias (AS name)")
        if column.name in seen:
            raise Unprocessable(
                f"the query returns more than one column named '{column.name}': "
                "give them distinct aliases"
            )
        seen.add(column.name)
    for key in business_keys:
        if key not in seen:
            raise Unprocessable(f"business key '{key}' is not a column the query returns")
    if rowversion_column is not None and rowversion_column not in seen:
        raise Unprocessable(
            f"rowversion column '{rowversion_column}' is not a column the query returns"
        )


def _parse(sql: str, dialect: Dialect) -> list[exp.Expr]:
    try:
        parsed = sqlglot_parse(sql, read=sqlglot_dialect(dialect))
    except ParseError as error:
        raise Unprocessable(f"the SQL does not parse as {dialect}: {_describe(error)}") from None
    except TokenError as error:
        raise Unprocessable(f"the SQL does not parse as {dialect}: {_short(error)}") from None
    # a trailing ";" yields an empty statement: not a second one
    return [statement for statement in parsed if statement is not None]


def _describe(error: ParseError) -> str:
    if not error.errors:
        return _short(error)
    first = error.errors[0]
    return (
        f"{first.get('description')} at line {first.get('line')}, "
        f"column {first.get('col')} (near '{first.get('highlight')}')"
    )


def _short(error: SqlglotError) -> str:
    return _ANSI.sub("", str(error)).splitlines()[0][:300]


def _top_level_query(statement: exp.Expr) -> exp.Query:
    node = statement
    while isinstance(node, exp.Subquery) and isinstance(node.this, exp.Query):
        if any(value for key, value in node.args.items() if key != "this"):
            raise Unprocessable(
                "write the query without parentheses around it "
                "(ORDER BY, LIMIT and the like go inside)"
            )
        node = node.this
    if isinstance(node, exp.Select | exp.SetOperation):
        return node
    raise Unprocessable(
        "the query must be a SELECT (or UNION, INTERSECT, EXCEPT, WITH ... SELECT); "
        f"found {type(node).__name__.upper()}"
    )


def _denied(node: exp.Expr) -> str | None:
    if isinstance(node, exp.Command):
        return (
            f"{node.name.upper()} is not allowed: the query must be a single SELECT "
            "(sqlglot reads this statement only as a raw command)"
        )
    for node_type, reason in DENIED_NODES.items():
        if isinstance(node, node_type):
            return reason
    return None


def _check_tree(statement: exp.Expr) -> list[str]:
    """Every node allowed, no denied function or hint; the named parameters in order."""
    parameters: list[str] = []
    for node in statement.walk(bfs=False):
        denied = _denied(node)
        if denied is not None:
            raise Unprocessable(denied)
        if not isinstance(node, ALLOWED_NODES):
            raise Unprocessable(
                f"{type(node).__name__} is not allowed in a saved query (near '{_snippet(node)}')"
            )
        if isinstance(node, exp.Func):
            _check_function(node)
        elif isinstance(node, exp.WithTableHint):
            _check_table_hints(node)
        elif isinstance(node, exp.Column) and node.table and node.name.lower() == "nextval":
            raise Unprocessable("sequence.NEXTVAL is not allowed: it advances a sequence")
        elif isinstance(node, exp.Placeholder):
            name = _parameter_name(node)
            if name not in parameters:
                parameters.append(name)
    return parameters


def _snippet(node: exp.Expr) -> str:
    try:
        text = node.sql()
    except SqlglotError:
        text = type(node).__name__
    return text[:60]


def _check_function(node: exp.Func) -> None:
    names = _function_names(node)
    if any(is_denied_function(name) for name in names):
        raise Unprocessable(
            f"function '{'.'.join(names)}' is not allowed: it has side effects or reaches "
            "outside the database"
        )


def _function_names(node: exp.Func) -> list[str]:
    """Any schema or package qualifiers in front of the function, then its name."""
    # .name is the bare name, also when it was written quoted ("pg_sleep")
    anonymous = isinstance(node, exp.Anonymous | exp.AnonymousAggFunc)
    name = node.name if anonymous else node.sql_name()
    qualifiers: list[str] = []
    parent = node.parent
    if isinstance(parent, exp.Dot) and parent.expression is node:
        qualifier = parent.this
        # only a plain name path (pkg.fn, schema.pkg.fn) qualifies; a call on the left checks itself
        if qualifier.find(exp.Func) is None:
            qualifiers = [identifier.name for identifier in qualifier.find_all(exp.Identifier)]
    elif isinstance(parent, exp.Table) and parent.this is node:
        parts = (parent.args.get("catalog"), parent.args.get("db"))
        qualifiers = [part.name for part in parts if part]
    return [*qualifiers, name]


def _check_table_hints(node: exp.WithTableHint) -> None:
    for hint in node.expressions:
        if hint.name.lower() in DENIED_TABLE_HINTS:
            raise Unprocessable(
                f"table hint {hint.name.upper()} is not allowed: it locks the ERP's rows"
            )


def _parameter_name(node: exp.Placeholder) -> str:
    if node.this is None:
        raise Unprocessable("positional parameters (?) are not supported: use named ones (:name)")
    name = node.name
    if not PARAM_NAME.fullmatch(name):
        raise Unprocessable(
            f"parameter ':{name}' is not a valid name: use a letter, then letters, digits or _"
        )
    return name


def _check_output_names(query: exp.Query) -> None:
    """Computed output columns need an alias: databases name them differently (T-SQL not at all)."""
    for projection in query.selects:
        if not isinstance(projection, exp.Alias | exp.Column | exp.Star):
            raise Unprocessable(
                f"output column '{_snippet(projection)}' needs a name: add AS <name>"
            )


def _check_renders(query: exp.Query, dialect: Dialect) -> None:
    """The runtime regenerates the query from its syntax tree, so that must be lossless."""
    try:
        query.sql(
            dialect=sqlglot_dialect(dialect),
            normalize_functions=False,
            unsupported_level=ErrorLevel.RAISE,
        )
    except UnsupportedError as error:
        raise Unprocessable(
            f"the query uses something sqlglot cannot reproduce for {dialect}: {_short(error)}"
        ) from None
