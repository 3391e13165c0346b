"""The total order a runtime query sorts by: the caller's sort, a default, then tie-breakers.

NULL sorts as the largest value on every dialect: last when ascending, first when
descending. PostgreSQL and Oracle do this by default, SQLite is told with NULLS
LAST / NULLS FIRST, and MySQL / MariaDB / SQL Server (which have no such syntax)
get a ``CASE WHEN x IS NULL THEN 1 ELSE 0 END`` key in front; sqlglot writes each.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from apismith.drivers.base import ColumnInfo
from apismith.sql.source import source_column
from apismith.sql.spec import DIRECTIONS, SortKey, shown
from bridge_core.errors import BadRequest, Unprocessable

UNORDERED_TYPES = ("json", "binary")  # no portable ordering (PostgreSQL json, Oracle BLOB)


@dataclass(frozen=True)
class TotalOrder:
    """Sort keys that order the rows totally: every sortable output column appears once."""

    keys: tuple[SortKey, ...]

    def order_by(self) -> list[exp.Ordered]:
        """The ORDER BY terms, NULLs largest."""
        return [
            exp.Ordered(
                this=source_column(key.field),
                desc=key.direction == "desc",
                nulls_first=key.direction == "desc",
            )
            for key in self.keys
        ]

    def row_values(self, row: Sequence[Any], columns: Sequence[ColumnInfo]) -> list[Any]:
        """The sort-key values of ``row`` (a tuple in ``columns`` order): the next page's cursor."""
        positions = {column.name: index for index, column in enumerate(columns)}
        return [row[positions[key.field]] for key in self.keys]


def resolve_order(
    *,
    sort: Sequence[SortKey],
    columns: Sequence[ColumnInfo],
    business_keys: Sequence[str] = (),
    rowversion_column: str | None = None,
) -> TotalOrder:
    """The caller's sort (default: rowversion, business keys), then the other sortable columns."""
    by_name = {column.name: column for column in columns}
    keys: list[SortKey] = []
    for key in sort:
        column = by_name.get(key.field)
        if column is None:
            raise BadRequest(f"unknown sort field {shown(str(key.field))}")
        if key.direction not in DIRECTIONS:
            raise BadRequest(
                f"sort {shown(column.name)}: direction must be asc or desc, "
                f"not {shown(str(key.direction))}"
            )
        if column.data_type in UNORDERED_TYPES:
            raise BadRequest(
                f"cannot sort by {shown(column.name)}: {column.data_type} has no order"
            )
        if any(existing.field == key.field for existing in keys):
            raise BadRequest(f"sort field {shown(column.name)} is given twice")
        keys.append(SortKey(field=key.field, direction=key.direction))
    if not keys:
        defaults = [rowversion_column] if rowversion_column else []
        for name in [*defaults, *business_keys]:
            if name not in by_name:
                raise Unprocessable(f"key column '{name}' is not a column the query returns")
            if by_name[name].data_type not in UNORDERED_TYPES and name not in {
                k.field for k in keys
            }:
                keys.append(SortKey(field=name))
    used = {key.field for key in keys}
    keys.extend(
        SortKey(field=column.name)
        for column in columns
        if column.name not in used and column.data_type not in UNORDERED_TYPES
    )
    if not keys:
        raise Unprocessable("the query returns no sortable column, so its rows cannot be paged")
    return TotalOrder(keys=tuple(keys))
