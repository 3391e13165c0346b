"""Final rendering: a query's syntax tree to SQL text in the driver's parameter style.

Every value (saved-query parameter, filter value, cursor value) stays a
placeholder in the tree; nothing a caller sends is ever written into SQL text.
Placeholders are numbered in the order they appear in the generated text, which
is the order positional drivers bind them in.
"""

import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlglot import ErrorLevel, exp

from apismith.drivers.base import PARAM_STYLES, BoundQuery, Dialect, ParamStyle
from apismith.sql.dialects import sqlglot_dialect
from bridge_core.errors import BadRequest


class Bindings:
    """The values of one query's placeholders: the saved query's, then generated ones."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.values: dict[str, Any] = dict(params)
        self._generated = 0

    def bind(self, value: Any) -> exp.Placeholder:
        """A new placeholder for ``value``; generated names start with "_", saved ones cannot."""
        return exp.Placeholder(this=self.add(value))

    def add(self, value: Any) -> str:
        """The name of a new value, as :meth:`bind` would give it, without its placeholder
        (for SQL already rendered with the placeholders this call order gives)."""
        self._generated += 1
        name = f"_v{self._generated}"
        self.values[name] = value
        return name


@dataclass(frozen=True)
class RenderedSql:
    """SQL text in a driver's parameter style, and which value goes into each placeholder.

    It depends only on the query's shape, never on values, so callers may keep it and
    bind new values of the same shape with :meth:`bind`.
    """

    sql: str
    slots: tuple[str, ...]  # the value name bound at each positional (or ``pN``) placeholder
    named: bool

    def bind(self, values: Mapping[str, Any]) -> BoundQuery:
        """The query with ``values`` (by name) in its placeholders."""
        if self.named:
            return BoundQuery(
                sql=self.sql, params={f"p{n}": values[name] for n, name in enumerate(self.slots, 1)}
            )
        return BoundQuery(
            sql=self.sql,
            params=tuple(values[name] for name in self.slots),
            compared=frozenset(
                position for position, name in enumerate(self.slots) if name.startswith("_")
            ),
        )


def render(expression: exp.Expr, dialect: Dialect, values: Mapping[str, Any]) -> BoundQuery:
    """SQL text for ``dialect`` with its placeholders in the driver's style, and their values."""
    return render_sql(expression, dialect, values).bind(values)


def render_sql(expression: exp.Expr, dialect: Dialect, names: Collection[str]) -> RenderedSql:
    """SQL text for ``dialect`` with its placeholders in the driver's style (400 when a
    placeholder's name is not in ``names``)."""
    # a random marker per render: the query's own text (literals, names) cannot guess it
    marker = f"__apismith_{secrets.token_hex(8)}_"
    order: list[str] = []

    def to_marker(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.Placeholder):
            return node
        name = node.name
        if name not in names:
            raise BadRequest(f"no value for parameter :{name}")
        if name not in order:
            order.append(name)
        return exp.Var(this=f"{marker}{order.index(name)}__")

    tree = expression.transform(to_marker)
    # no comments: MySQL runs the text of /*! ... */ comments, which validation never saw;
    # function names as written: a quoted name is case-sensitive
    sql = tree.sql(
        dialect=sqlglot_dialect(dialect),
        comments=False,
        normalize_functions=False,
        unsupported_level=ErrorLevel.RAISE,
    )
    style = PARAM_STYLES[Dialect(dialect)]
    if style is ParamStyle.FORMAT:
        # the driver applies Python %-formatting to the whole text
        sql = sql.replace("%", "%%")
    return _number_placeholders(sql, re.compile(rf"{marker}(\d+)__"), style, order)


def _number_placeholders(
    sql: str, pattern: re.Pattern[str], style: ParamStyle, order: list[str]
) -> RenderedSql:
    slots: list[str] = []
    numbers: dict[int, int] = {}  # marker index -> $n / :pn, so a repeated parameter binds once

    def replace(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if style is ParamStyle.QMARK:
            slots.append(order[index])
            return "?"
        if style is ParamStyle.FORMAT:
            slots.append(order[index])
            return "%s"
        if index not in numbers:
            numbers[index] = len(numbers) + 1
            slots.append(order[index])
        return f"${numbers[index]}" if style is ParamStyle.DOLLAR else f":p{numbers[index]}"

    sql = pattern.sub(replace, sql)
    return RenderedSql(sql=sql, slots=tuple(slots), named=style is ParamStyle.NAMED)
