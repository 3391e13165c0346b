"""Entities: create, change and delete entity definitions, and migrate their target tables.

Create and update fetch the API's metadata from the entity's source (APISmith),
resolve the definition (:mod:`syncflow.entities.definition`), store it, and then
create or migrate the target table on the target connection. Deleting an entity
never drops its target table.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from loguru import logger
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.errors import Conflict, NotFound, Unprocessable
from bridge_core.http.client import ServiceClientError
from bridge_core.ids import new_id
from syncflow.domain import ApiColumn, EntitySpec, api_columns
from syncflow.entities.definition import (
    ApiMetadata,
    KnownEntity,
    api_metadata,
    resolve_definition,
    to_spec,
)
from syncflow.entities.repository import EntityRepository
from syncflow.entities.schemas import (
    EntityBody,
    EntityChange,
    EntityCreate,
    EntityDefinition,
    EntityOut,
)
from syncflow.settings import Settings
from syncflow.sources.service import find_source, gateway_error, open_client
from syncflow.targets.schemas import TargetTableChange
from syncflow.targets.service import ensure_table, upgrade_hashes

# an entity with a batch in these states is being (or about to be) synced
RUNNING = ("running",)
ACTIVE = ("pending", "running")


def _columns(raw: Sequence[dict[str, Any]]) -> tuple[ApiColumn, ...]:
    return api_columns(list(raw))


def _out(row: RowMapping) -> EntityOut:
    return EntityOut.model_validate(
        {
            **row["definition"],
            "uid": row["uid"],
            "source_uid": row["source_uid"],
            "api_columns": row["api_columns"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }
    )


def _change(row: RowMapping, table: TargetTableChange) -> EntityChange:
    return EntityChange.model_validate(
        {
            **_out(row).model_dump(),
            "table_created": table.table_created,
            "added_columns": table.added_columns,
            "retained_columns": table.retained_columns,
        }
    )


async def _source_and_api(
    conn: AsyncConnection, settings: Settings, body: EntityBody
) -> tuple[RowMapping, ApiMetadata]:
    source = await find_source(conn, name_or_uid=body.source)
    if source is None:
        raise Unprocessable(f"source: unknown source {body.source!r}")
    async with open_client(settings, source) as client:
        try:
            raw = await client.get_api(body.api_slug)
        except ServiceClientError as exc:
            if exc.status_code == 404:
                raise Unprocessable(
                    f"api_slug: source {source['name']!r} has no API {body.api_slug!r}"
                ) from exc
            raise gateway_error(source, exc) from exc
    return source, api_metadata(raw, api_columns(raw.get("columns")))


def _known(rows: Sequence[RowMapping], *, excluding: str) -> dict[str, KnownEntity]:
    known = {}
    for row in rows:
        definition = row["definition"]
        if row["name"] == excluding:
            continue
        known[row["name"]] = KnownEntity(
            name=row["name"],
            business_keys=tuple(definition["business_keys"]),
            parents=tuple(ref["parent_entity"] for ref in definition["parent_refs"]),
            target_schema=definition["target_schema"],
            target_table=definition["target_table"],
        )
    return known


def _check_target_free(definition: EntityDefinition, known: dict[str, KnownEntity]) -> None:
    for other in known.values():
        if (other.target_schema, other.target_table) == (
            definition.target_schema,
            definition.target_table,
        ):
            raise Conflict(
                f"target table {definition.target_schema}.{definition.target_table} "
                f"belongs to entity {other.name!r}"
            )


async def _resolve(
    conn: AsyncConnection, *, settings: Settings, name: str, body: EntityBody
) -> tuple[RowMapping, ApiMetadata, EntityDefinition]:
    repository = EntityRepository(conn)
    source, api = await _source_and_api(conn, settings, body)
    await repository.lock_for_share([ref.parent_entity for ref in body.parent_refs])
    known = _known(await repository.list_all(), excluding=name)
    definition = resolve_definition(
        body, name=name, source_name=source["name"], api=api, others=known
    )
    _check_target_free(definition, known)
    return source, api, definition


def _api_columns_json(api: ApiMetadata) -> list[dict[str, Any]]:
    return [{"name": c.name, "data_type": c.data_type, "nullable": c.nullable} for c in api.columns]


async def create_entity(
    conn: AsyncConnection, target_conn: AsyncConnection, *, settings: Settings, body: EntityCreate
) -> EntityChange:
    """Resolve and store a new entity, then create (or adopt) its target table."""
    repository = EntityRepository(conn)
    if await repository.get(body.name) is not None:
        raise Conflict(f"entity {body.name!r} already exists")
    source, api, definition = await _resolve(conn, settings=settings, name=body.name, body=body)
    row = await repository.insert(
        uid=new_id(),
        name=body.name,
        source_uid=source["uid"],
        api_slug=api.slug,
        definition=definition.model_dump(mode="json"),
        api_columns=_api_columns_json(api),
        now=datetime.now(UTC),
    )
    if row is None:
        raise Conflict(f"entity {body.name!r} already exists")
    spec = to_spec(definition, api.columns, source_timezone=settings.source_timezone)
    table = await ensure_table(target_conn, spec=spec)
    logger.info("entity {} created from {}/{}", body.name, source["name"], api.slug)
    return _change(row, table)


def _check_compatible(current: EntityDefinition, new: EntityDefinition) -> None:
    """Changes that would leave the target table's rows meaningless are refused."""
    old_target = f"{current.target_schema}.{current.target_table}"
    new_target = f"{new.target_schema}.{new.target_table}"
    if old_target != new_target:
        raise Conflict(
            f"entity {current.name!r} loads {old_target}; moving it to {new_target} is refused: "
            "create a new entity instead"
        )
    if current.business_keys != new.business_keys:
        raise Conflict(
            f"business keys of {current.name!r} would change from {current.business_keys} to "
            f"{new.business_keys}: the rows in {old_target} are keyed by the old ones; "
            "create a new entity (with a new target_table) instead"
        )


async def update_entity(
    conn: AsyncConnection,
    target_conn: AsyncConnection,
    *,
    settings: Settings,
    name: str,
    body: EntityBody,
) -> EntityChange:
    """Replace an entity's definition (unset keys default again) and migrate its table."""
    if body.name is not None and body.name != name:
        raise Unprocessable(f"name: an entity cannot be renamed ({name!r} -> {body.name!r})")
    repository = EntityRepository(conn)
    current = await repository.get(name, for_update=True)
    if current is None:
        raise NotFound(f"entity {name!r} not found")
    if await repository.batches_in(name, RUNNING):
        raise Conflict(f"entity {name!r} has a running batch; change it when the batch is done")
    source, api, definition = await _resolve(conn, settings=settings, name=name, body=body)
    _check_compatible(EntityDefinition.model_validate(current["definition"]), definition)
    row = await repository.update(
        name,
        source_uid=source["uid"],
        api_slug=api.slug,
        definition=definition.model_dump(mode="json"),
        api_columns=_api_columns_json(api),
        now=datetime.now(UTC),
    )
    spec = to_spec(definition, api.columns, source_timezone=settings.source_timezone)
    table = await ensure_table(target_conn, spec=spec)
    logger.info("entity {} updated", name)
    return _change(row, table)


async def upgrade_target(
    conn: AsyncConnection, target_conn: AsyncConnection, *, settings: Settings, name: str
) -> bool:
    """Rewrite the entity's target hashes from hex text to uuid and bytea (refused while
    a batch runs); ``False`` when the table has them in that form already."""
    repository = EntityRepository(conn)
    if await repository.get(name, for_update=True) is None:
        raise NotFound(f"entity {name!r} not found")
    if await repository.batches_in(name, RUNNING):
        raise Conflict(f"entity {name!r} has a running batch; upgrade it when the batch is done")
    spec = await load_spec(conn, name, source_timezone=settings.source_timezone)
    return await upgrade_hashes(target_conn, spec=spec)


async def list_entities(conn: AsyncConnection) -> list[EntityOut]:
    """Every entity, by name."""
    return [_out(row) for row in await EntityRepository(conn).list_all()]


async def get_entity(conn: AsyncConnection, *, name: str) -> EntityOut:
    """One entity with its resolved definition; 404 when unknown."""
    row = await EntityRepository(conn).get(name)
    if row is None:
        raise NotFound(f"entity {name!r} not found")
    return _out(row)


async def delete_entity(conn: AsyncConnection, *, name: str) -> None:
    """Delete an entity (its target table is kept); 409 while anything still needs it."""
    repository = EntityRepository(conn)
    row = await repository.get(name, for_update=True)
    if row is None:
        raise NotFound(f"entity {name!r} not found")
    children = [
        other["name"]
        for other in await repository.list_all()
        if any(ref["parent_entity"] == name for ref in other["definition"]["parent_refs"])
    ]
    if children:
        raise Conflict(f"entity {name!r} is the parent of {', '.join(children)}: delete them first")
    if await repository.batches_in(name, ACTIVE):
        raise Conflict(f"entity {name!r} has a pending or running batch: stop it first")
    schedules = await repository.schedule_count(name)
    if schedules:
        raise Conflict(f"entity {name!r} has {schedules} schedule(s): delete them first")
    await repository.delete(name)
    definition = row["definition"]
    logger.info(
        "entity {} deleted; its table {}.{} is kept",
        name,
        definition["target_schema"],
        definition["target_table"],
    )


async def load_spec(
    conn: AsyncConnection, name: str, *, source_timezone: str = "UTC"
) -> EntitySpec:
    """The pipeline's :class:`EntitySpec` of an entity; 404 when unknown."""
    row = await EntityRepository(conn).get(name)
    if row is None:
        raise NotFound(f"entity {name!r} not found")
    definition = EntityDefinition.model_validate(row["definition"])
    return to_spec(definition, _columns(row["api_columns"]), source_timezone=source_timezone)


async def child_specs(
    conn: AsyncConnection, name: str, *, source_timezone: str = "UTC"
) -> list[EntitySpec]:
    """The specs of entities with a parent ref to ``name`` (whose parked rows it may free)."""
    children = []
    for row in await EntityRepository(conn).list_all():
        definition = EntityDefinition.model_validate(row["definition"])
        if any(ref.parent_entity == name for ref in definition.parent_refs):
            columns = _columns(row["api_columns"])
            children.append(to_spec(definition, columns, source_timezone=source_timezone))
    return children
