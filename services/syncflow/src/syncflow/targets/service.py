"""Create or migrate an entity's target table (in the target database).

Migration rules: a missing table (and schema) is created; a new field or parent
ref adds a nullable column; a column no longer mapped is kept and reported as
retained (never dropped); a column whose type no longer matches is a 409 (no
silent rewrite); a relation of that name that is not a SyncFlow target table is
a 409. The DDL runs in the caller's transaction on the target database.
"""

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.db.ddl import lock_ddl
from bridge_core.errors import Conflict
from syncflow.domain import EntitySpec
from syncflow.targets.repository import TargetTableRepository
from syncflow.targets.schemas import TargetTableChange
from syncflow.targets.shape import (
    BRIDGE_COLUMNS,
    FILLFACTOR,
    same_type,
    target_columns,
    target_table,
)

# DDL needs an exclusive lock; waiting longer than this behind a running sync is refused
LOCK_TIMEOUT_MS = 5_000

# the hash columns as hex text, the form before they became uuid and bytea
HEX_HASH_TYPES = {"_bridge_key_hash": "character(32)", "_bridge_data_hash": "character(64)"}


def _upgrade_hint(qualified: str, name: str) -> str:
    return (
        f"target table {qualified} keeps its hashes as hex text (character(32) and "
        f"character(64)), the form before uuid and bytea; run `syncflow entities upgrade "
        f"{name}` once (it rewrites the table, with no batch running)"
    )


def _has_hex_hashes(columns: dict[str, str]) -> bool:
    return any(columns.get(name) == kind for name, kind in HEX_HASH_TYPES.items())


async def require_current_hashes(target_conn: AsyncConnection, *, spec: EntitySpec) -> None:
    """409 when the target table still keeps the hex-text hashes (a batch would fail on
    them half way; it fails before it starts instead)."""
    existing = await TargetTableRepository(target_conn).describe(
        spec.target_schema, spec.target_table
    )
    if existing is not None and _has_hex_hashes(existing.columns):
        raise Conflict(_upgrade_hint(f"{spec.target_schema}.{spec.target_table}", spec.name))


async def upgrade_hashes(target_conn: AsyncConnection, *, spec: EntitySpec) -> bool:
    """Rewrite the hex-text hash columns as uuid and bytea (same values; the API keeps
    showing hex); ``False`` when the table has the current form already."""
    repository = TargetTableRepository(target_conn)
    await lock_ddl(target_conn)
    existing = await repository.describe(spec.target_schema, spec.target_table)
    qualified = f"{spec.target_schema}.{spec.target_table}"
    if existing is None:
        raise Conflict(f"entity {spec.name!r} has no target table {qualified}")
    if not _has_hex_hashes(existing.columns):
        return False
    await repository.convert_hashes(spec.target_schema, spec.target_table)
    logger.info("target table {} upgraded: hashes as uuid and bytea", qualified)
    return True


async def ensure_table(target_conn: AsyncConnection, *, spec: EntitySpec) -> TargetTableChange:
    """Create ``spec``'s table or add the columns it lacks; 409 on a type change."""
    repository = TargetTableRepository(target_conn)
    qualified = f"{spec.target_schema}.{spec.target_table}"
    await repository.limit_lock_wait(LOCK_TIMEOUT_MS)
    # concurrent creators (workers, API calls) would race on the catalog: one at a time
    await lock_ddl(target_conn)
    table = target_table(spec)
    wanted = target_columns(spec)
    existing = await repository.describe(spec.target_schema, spec.target_table)
    if existing is None:
        await repository.create_schema(spec.target_schema)
        await repository.create_table(table)
        logger.info("target table {} created for entity {}", qualified, spec.name)
        return TargetTableChange(
            target_schema=spec.target_schema,
            target_table=spec.target_table,
            table_created=True,
            added_columns=[],
            retained_columns=[],
        )
    if not existing.is_table:
        raise Conflict(f"{qualified} exists and is not a table; choose another target_table")
    missing_bridge = [c.name for c in BRIDGE_COLUMNS if c.name not in existing.columns]
    if missing_bridge:
        raise Conflict(
            f"table {qualified} exists and is not a SyncFlow target table "
            f"(it lacks {', '.join(missing_bridge)}); choose another target_table"
        )
    if _has_hex_hashes(existing.columns):
        raise Conflict(_upgrade_hint(qualified, spec.name))
    changed = [
        f"{c.name} is {existing.columns[c.name]}, the entity now needs {c.catalog_type}"
        for c in wanted
        if c.name in existing.columns and not same_type(c, existing.columns[c.name])
    ]
    if changed:
        raise Conflict(
            f"column types of {qualified} differ from the entity: {'; '.join(changed)}. "
            "SyncFlow never rewrites a column: change its type by hand (ALTER TABLE ... "
            "ALTER COLUMN ... TYPE ...) or map the field to a new target_field"
        )
    if not any(option.startswith("fillfactor=") for option in existing.options):
        # a table made before targets left room for updates (shape.FILLFACTOR)
        await repository.set_fillfactor(table, FILLFACTOR)
        logger.info("target table {}: fillfactor set to {}", qualified, FILLFACTOR)
    added = [c for c in wanted if c.name not in existing.columns]
    for column in added:
        await repository.add_column(table, table.c[column.name])
    wanted_names = {c.name for c in wanted}
    retained = [name for name in existing.columns if name not in wanted_names]
    if added:
        logger.info(
            "target table {} migrated: added {}", qualified, ", ".join(c.name for c in added)
        )
    return TargetTableChange(
        target_schema=spec.target_schema,
        target_table=spec.target_table,
        table_created=False,
        added_columns=[c.name for c in added],
        retained_columns=retained,
    )
