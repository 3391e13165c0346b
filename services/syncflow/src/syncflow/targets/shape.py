"""The shape of an entity's target table: mapped fields, parent uid columns, bridge columns.

Pure: it turns an :class:`EntitySpec` into SQLAlchemy columns and the catalog type
names (``format_type``) that PostgreSQL reports for them.
"""

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    LargeBinary,
    MetaData,
    Numeric,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.sql.elements import quoted_name
from sqlalchemy.types import TypeEngine

from syncflow.domain import BRIDGE_COLUMN_NAMES, EntitySpec, FieldType, parent_column


@dataclass(frozen=True)
class TargetColumn:
    """One column of a target table: its DDL type and the type name the catalog reports."""

    name: str
    sql_type: TypeEngine[Any]
    catalog_type: str
    bridge: bool = False
    primary_key: bool = False
    unique: bool = False
    nullable: bool = True

    def to_column(self) -> Column[Any]:
        return Column(
            quoted_name(self.name, quote=True),
            self.sql_type,
            primary_key=self.primary_key,
            unique=self.unique,
            nullable=self.nullable and not self.primary_key,
        )


FIELD_TYPES: dict[FieldType, tuple[TypeEngine[Any], str]] = {
    FieldType.TEXT: (Text(), "text"),
    FieldType.INTEGER: (BigInteger(), "bigint"),
    FieldType.NUMERIC: (Numeric(), "numeric"),
    FieldType.BOOLEAN: (Boolean(), "boolean"),
    FieldType.DATE: (Date(), "date"),
    FieldType.TIMESTAMP: (DateTime(timezone=True), "timestamp with time zone"),
}

_TIMESTAMPTZ = "timestamp with time zone"

# the DDL of each bridge column, in the order of ``domain.BRIDGE_COLUMN_NAMES``
_BRIDGE_DDL: tuple[dict[str, Any], ...] = (
    {"sql_type": Uuid(), "catalog_type": "uuid", "primary_key": True},
    # the xxh3-128 key hash as a uuid and the BLAKE3 data hash as 32 bytes (the API shows
    # both as hex): half the width of their hex text, and faster to index
    {"sql_type": Uuid(), "catalog_type": "uuid", "unique": True, "nullable": False},
    {"sql_type": LargeBinary(), "catalog_type": "bytea", "nullable": False},
    {"sql_type": Text(), "catalog_type": "text"},
    {"sql_type": Text(), "catalog_type": "text"},
    {"sql_type": Uuid(), "catalog_type": "uuid"},
    {"sql_type": DateTime(timezone=True), "catalog_type": _TIMESTAMPTZ, "nullable": False},
    {"sql_type": DateTime(timezone=True), "catalog_type": _TIMESTAMPTZ, "nullable": False},
    {"sql_type": DateTime(timezone=True), "catalog_type": _TIMESTAMPTZ},
)
BRIDGE_COLUMNS: tuple[TargetColumn, ...] = tuple(
    TargetColumn(name, bridge=True, **ddl)
    for name, ddl in zip(BRIDGE_COLUMN_NAMES, _BRIDGE_DDL, strict=True)
)

_TYPE_MODIFIER = re.compile(r"\([^)]*\)")


def target_columns(spec: EntitySpec) -> list[TargetColumn]:
    """Mapped fields in order, one ``<parent>_uid`` per parent ref, then the bridge columns."""
    fields = [
        TargetColumn(f.target_field, FIELD_TYPES[f.type][0], FIELD_TYPES[f.type][1])
        for f in spec.fields
    ]
    parents = [
        TargetColumn(parent_column(ref.parent_entity), Uuid(), "uuid") for ref in spec.parent_refs
    ]
    return [*fields, *parents, *BRIDGE_COLUMNS]


# a tenth of every heap page left free: a changed row's new version fits in its own page,
# so PostgreSQL updates it without touching either index (a HOT update). Measured on a
# 1.5M-row `orders` target, 15,000 changed rows merged in 230 ms instead of 550 ms; a
# full load into the table took no measurably longer (bench/RESULTS.md)
FILLFACTOR = 90


def target_table(spec: EntitySpec) -> Table:
    """The SQLAlchemy table for ``spec`` (every identifier quoted)."""
    return Table(
        quoted_name(spec.target_table, quote=True),
        MetaData(),
        *(column.to_column() for column in target_columns(spec)),
        schema=quoted_name(spec.target_schema, quote=True),
        postgresql_with={"fillfactor": FILLFACTOR},
    )


def same_type(column: TargetColumn, catalog_type: str) -> bool:
    """Whether an existing column's type is the one wanted.

    Bridge columns must match exactly; a field column matches on its base type, so a
    precision set by hand (``numeric(18,4)``) is accepted and kept.
    """
    if column.bridge:
        return catalog_type == column.catalog_type
    return _TYPE_MODIFIER.sub("", catalog_type) == column.catalog_type
